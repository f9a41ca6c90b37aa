"""The harvest lease (kg/harvest/lease.py, kg/harvest/state.py) on a SQLite file and on a real
PostgreSQL server: one holder per source, however many race for it; renewed by its heartbeat
past its TTL; taken over once it expires; a holder that lost it cannot write the source's state
any more; released at the end. And in a harvester: a second harvester of one source gets a
'not run' report naming the holder while the first runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from api.demo.replay import ReplayData
from kg.catalog import Catalog
from kg.db.database import PostgresDatabase, SqliteDatabase
from kg.harvest.lease import Lease, holder_id
from kg.harvest.report import HarvestReport
from kg.harvest.state import HarvestState, LeaseLost, OpenRun
from mappings.openml import OpenMLConnector
from tests.support.data import FIXTURES
from tests.support.harvest import harvester, replay

Open = Callable[[], HarvestState]
SOURCE = "openml https://openml.example"


@pytest.fixture(params=["sqlite", "postgresql"])
def open_state(request: pytest.FixtureRequest, tmp_path: Path) -> Open:
    """Opens the one harvest database anew each call (as another replica would)."""
    if request.param == "sqlite":
        return lambda: HarvestState(SqliteDatabase(tmp_path / "harvest.sqlite", "harvest"))
    url = request.getfixturevalue("postgres_url")
    return lambda: HarvestState(PostgresDatabase(url, "harvest"))


def wait_past(state: HarvestState, source: str) -> None:
    """Until the source's lease has expired (its holder stopped renewing)."""
    lease = state.lease(source)
    assert lease is not None
    while time.time() < lease.expires + 0.05:
        time.sleep(0.05)


def test_one_holder_until_the_lease_expires_then_another(open_state: Open) -> None:
    first, second = open_state(), open_state()
    try:
        assert first.take_lease(SOURCE, "a", 1.0) is None  # taken
        held = second.take_lease(SOURCE, "b", 1.0)
        assert held is not None and held.holder == "a"
        assert "a (since " in held.describe()
        assert first.take_lease(SOURCE, "a", 1.0) is None  # its own: renewed
        assert first.renew_lease(SOURCE, "a", 1.0)
        assert second.take_lease("another source", "b", 1.0) is None  # one lease per source

        run = OpenRun("run1", "2026-01-01T00:00:00", None, None, 0)
        first.begin(SOURCE, "openml", run)
        first.commit_page(SOURCE, "run1", {}, set(), set(), {"offset": 5}, 5)

        wait_past(first, SOURCE)  # "a" stopped renewing (killed)
        assert second.take_lease(SOURCE, "b", 60.0) is None  # taken over
        assert not first.renew_lease(SOURCE, "a", 60.0)
        with pytest.raises(LeaseLost, match="taken over by b"):  # fenced: no write from "a"
            first.commit_page(SOURCE, "run1", {}, set(), set(), {"offset": 10}, 10)
        resumed = second.open_run(SOURCE)
        assert resumed is not None and resumed.cursor == {"offset": 5}  # the last commit
        second.commit_page(SOURCE, "run1", {}, set(), set(), {"offset": 10}, 10)

        second.release_lease(SOURCE, "b")
        assert second.lease(SOURCE) is None
        assert first.take_lease(SOURCE, "a", 1.0) is None  # free again
    finally:
        first.close()
        second.close()


def test_of_many_racing_for_a_lease_one_takes_it(open_state: Open) -> None:
    states = [open_state() for _ in range(6)]
    barrier = threading.Barrier(len(states))
    results: dict[str, object] = {}

    def race(state: HarvestState, holder: str) -> None:
        barrier.wait()
        results[holder] = state.take_lease(SOURCE, holder, 60.0)

    threads = [
        threading.Thread(target=race, args=(state, f"h{n}")) for n, state in enumerate(states)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [holder for holder, other in results.items() if other is None]
    assert len(winners) == 1 and len(results) == len(states)
    assert {getattr(other, "holder", None) for other in results.values()} == {None, winners[0]}
    for state in states:
        state.close()


def test_the_heartbeat_keeps_the_lease_past_its_ttl_and_releases_it(open_state: Open) -> None:
    state, other = open_state(), open_state()
    try:
        with Lease(state, SOURCE, holder_id(), 1.0) as lease:
            assert lease.held
            first = state.lease(SOURCE)
            assert first is not None
            while time.time() < first.expires + 1.0:  # well past the first expiry
                assert other.take_lease(SOURCE, "other", 1.0) is not None
                time.sleep(0.1)
            assert not lease.lost.is_set()
        assert state.lease(SOURCE) is None  # released at the end
        with Lease(other, SOURCE, "other", 1.0) as taken, Lease(state, SOURCE, "x", 1.0) as not_:
            assert taken.held and not not_.held
            assert not_.other is not None and not_.other.holder == "other"
    finally:
        state.close()
        other.close()


def test_a_second_harvester_of_a_source_is_told_who_runs_it(catalog: Catalog) -> None:
    data = ReplayData.from_fixtures(FIXTURES).scaled(openml=30)
    with replay(data) as server:
        server.delay = 0.05  # the first run lasts long enough for the second to meet it
        first, second = harvester(catalog), harvester(catalog)  # two holders, one state
        try:
            connector = OpenMLConnector(server.openml_url, 5)
            reports: list[HarvestReport] = []
            thread = threading.Thread(target=lambda: reports.append(first.run(connector)))
            thread.start()
            while first.state.lease(connector.source) is None and thread.is_alive():
                time.sleep(0.01)
            held = second.run(connector)
            thread.join()
            assert held.held and not held.completed and held.listed == 0
            assert held.summary().startswith(
                f"openml: not run: {connector.source} is being harvested by {first.holder} (since"
            )
            (done,) = reports
            assert done.completed and done.total("created") > 30
            assert first.state.lease(connector.source) is None  # released
            assert second.run(connector).completed  # free: the second runs now
        finally:
            first.close()
            second.close()
