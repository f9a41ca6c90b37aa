"""Two replicas of one catalog, each a real ``aiod-kg serve --harvest-every`` process sharing the
stores (two Oxigraph servers) and the harvest state (one SQLite file in a shared data folder, or
one PostgreSQL database): only the lease holder harvests the source; SIGKILLed mid-run, the
other replica takes the source over once the lease has expired and resumes from the last
committed cursor; in the end every upstream record is in the catalog once."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.demo.replay import ReplayData, ReplayServer
from kg.db.database import PostgresDatabase, SqliteDatabase
from kg.harvest.state import HarvestState
from tests.support.data import FIXTURES
from tests.support.engines import Engine, oxigraph_binary, start_oxigraph
from tests.support.server import running_server

DATASETS = 60
LEASE_SECONDS = 6.0  # renewed every 2 s: a busy machine does not lose it

pytestmark = [pytest.mark.slow, pytest.mark.server, pytest.mark.engine]


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    """The public and the private partition, each an Oxigraph server both replicas share."""
    if oxigraph_binary() is None:
        pytest.skip("oxigraph (pip install oxigraph) is not installed")
    public = start_oxigraph(tmp_path / "public")
    try:
        private = start_oxigraph(tmp_path / "private")
        try:
            yield public, private
        finally:
            private.stop()
    finally:
        public.stop()


def offsets(server: ReplayServer, since: int = 0) -> list[int]:
    """The offsets of the OpenML list pages requested (from request ``since`` on)."""
    return [int(r.rsplit("/", 1)[1]) for r in server.requests[since:] if "/data/list/" in r]


def wait(condition: object, what: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.1)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_one_replica_harvests_and_another_takes_over_a_killed_one(
    kind: str, tmp_path: Path, engines: tuple[Engine, Engine], request: pytest.FixtureRequest
) -> None:
    public, private = engines
    shared = tmp_path / "data"  # SQLite: the replicas share the folder of the state files
    database = request.getfixturevalue("postgres_url") if kind == "postgresql" else None
    state = HarvestState(
        PostgresDatabase(database, "harvest")
        if database
        else SqliteDatabase(shared / "harvest.sqlite", "harvest")
    )
    data = ReplayData.from_fixtures(FIXTURES).scaled(openml=DATASETS)
    with ReplayServer(data) as server:
        source = f"openml {server.openml_url}"
        env = {
            "AIOD_KG_PRIVATE_STORE": private.url,
            "AIOD_KG_OPENML_URL": server.openml_url,
            "AIOD_KG_HARVEST_SOURCES": "openml",
            "AIOD_KG_HARVEST_PAGE_SIZE": "5",
            "AIOD_KG_HARVEST_WRITE_BATCH": "5",
            "AIOD_KG_HARVEST_CONCURRENCY": "2",
            "AIOD_KG_HARVEST_LEASE_SECONDS": str(LEASE_SECONDS),
            "AIOD_KG_SEARCH_ENABLED": "false",  # not the subject; SQLite: one shared folder
        }

        def replica(name: str, every: str) -> object:
            data_dir = shared if database is None else tmp_path / name
            return running_server(
                public.url,
                env={**env, "AIOD_KG_DATA_DIR": str(data_dir), "AIOD_KG_DATABASE": database},
                args=["--harvest-every", every],
                log=tmp_path / f"{name}.log",
                stop_timeout=30,
            )

        server.delay = 0.6  # the first replica's run lasts while the second starts
        with replica("first", "1h") as first:  # type: ignore[attr-defined]
            wait(lambda: state.lease(source) is not None, "the first replica holds the lease")
            holder = state.lease(source)
            assert holder is not None
            with replica("second", "1s") as second:  # type: ignore[attr-defined]
                # the second replica's schedule comes round every second: the source is held
                turns_from = time.monotonic()
                wait(lambda: time.monotonic() > turns_from + 3, "three turns of the second")
                assert offsets(server).count(0) == 1  # one replica listed the source
                lease = state.lease(source)
                assert lease is not None and lease.holder == holder.holder
                run = state.open_run(source)
                assert run is not None and run.cursor is not None  # pages committed

                first.process.send_signal(signal.SIGKILL)  # mid-run
                assert first.process.wait(30) == -signal.SIGKILL
                killed_at = state.open_run(source)
                assert killed_at is not None and killed_at.cursor is not None
                offset = int(killed_at.cursor["offset"])
                assert 0 < offset < DATASETS
                before = server.settled(1.0)  # the killed replica's requests in flight
                server.delay = 0.0

                # after the lease expires the second replica takes the source over
                wait(lambda: state.source(source) is not None, "the source's run completed")
                assert offsets(server, before)[0] == offset  # from the killed run's cursor
                counts = httpx.get(f"{second.base_url}/counts", timeout=10).json()
                identifiers = httpx.get(
                    f"{second.base_url}/datasets",
                    params={"limit": 1000},
                    timeout=30,
                ).json()
        # no record lost or duplicated
        assert counts["datasets"]["openml"] == DATASETS, counts
        platform_ids = [d["platform_resource_identifier"] for d in identifiers]
        assert len(platform_ids) == len(set(platform_ids)) == DATASETS
        assert state.count(source) >= DATASETS
    state.close()
