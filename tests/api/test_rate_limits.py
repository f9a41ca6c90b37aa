"""Write rate limits shared by processes and replicas (kg/access/rate_limits.py, wired by
api/hardening.py): the buckets in a database -- SQLite and a real PostgreSQL -- hold one limit
for several holders (each a separate ``Database`` object, as each process has), never overdraw
under concurrent takes, refill with time, and are what the API uses when AIOD_KG_DATABASE is
set; one process alone keeps its buckets in memory. The replicas test
(tests/api/test_replicas.py) checks the same across three real replicas behind nginx."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from api.app import create_app
from api.hardening import WriteRateLimit, shared_rate_limit
from kg.access.rate_limits import NAME, SharedBuckets
from kg.catalog import Catalog
from kg.db.database import Database, PostgresDatabase, SqliteDatabase
from kg.settings import Settings
from tests.support.data import ADMIN_KEY, AUTH

NOW = 1_800_000_000.0
Holder = Callable[[int, float], SharedBuckets]


@pytest.fixture(params=["sqlite", "postgresql"])
def holders(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Holder]:
    """Makes holders of one rate-limit database, each on its own ``Database`` object."""
    made: list[SharedBuckets] = []
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else ""

    def holder(limit: int, window: float) -> SharedBuckets:
        database: Database = (
            PostgresDatabase(url, NAME) if url else SqliteDatabase(tmp_path / "rl.sqlite", NAME)
        )
        made.append(SharedBuckets(database, limit, window))
        return made[-1]

    yield holder
    for buckets in made:
        buckets.close()


def test_one_limit_across_holders(holders: Holder) -> None:
    first, second = holders(3, 60), holders(3, 60)
    assert [first.take("k", NOW), second.take("k", NOW), first.take("k", NOW)] == [0, 0, 0]
    wait = second.take("k", NOW)
    assert wait == pytest.approx(20.0)  # one token per 60/3 s
    assert first.take("k", NOW + 5) == pytest.approx(15.0)  # a refused take costs nothing
    assert second.take("other", NOW) == 0  # clients have their own buckets
    assert first.take("k", NOW + 20) == 0  # refilled smoothly
    assert second.take("k", NOW + 20) > 0


def test_concurrent_takes_never_overdraw(holders: Holder) -> None:
    per_thread = [holders(10, 3600) for _ in range(4)]
    granted: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(len(per_thread))

    def take(buckets: SharedBuckets) -> None:
        start.wait()
        for _ in range(6):
            wait = buckets.take("hot", NOW)
            with lock:
                granted.append(wait)

    threads = [threading.Thread(target=take, args=(b,)) for b in per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 24 and granted.count(0.0) == 10


def test_a_skewed_clock_refills_nothing_early_and_full_buckets_are_pruned(
    holders: Holder,
) -> None:
    buckets = holders(2, 10)
    assert buckets.take("k", NOW + 100) == 0  # a replica whose clock is ahead
    assert buckets.take("k", NOW) == 0  # another one behind it: no refill, one token left
    assert buckets.take("k", NOW) > 0
    assert buckets.take("j", NOW) == 0
    assert buckets.prune(NOW + 50) == 1  # j is full again; k's stamp is NOW + 100
    assert buckets.take("j", NOW + 50) == 0
    with pytest.raises(ValueError):
        holders(0, 10)


def _counting_app() -> Starlette:
    async def write(request: Request) -> PlainTextResponse:
        return PlainTextResponse("written")

    return Starlette(routes=[Route("/w", write, methods=["POST", "GET"])])


def _limited(shared: SharedBuckets | None) -> ASGIApp:
    return WriteRateLimit(_counting_app(), limit=3, window=3600, shared=shared)


def test_the_middleware_holds_one_limit_for_two_processes(holders: Holder) -> None:
    one, two = (TestClient(_limited(holders(3, 3600))) for _ in range(2))
    key = {"Authorization": "Bearer a-user-token"}
    statuses = [c.post("/w", headers=key).status_code for c in (one, two, one, two, one)]
    assert statuses == [200, 200, 200, 429, 429]
    refused = two.post("/w", headers=key)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert set(refused.json()) == {"detail", "reference"}
    assert one.get("/w", headers=key).status_code == 200  # reads are not limited
    assert two.post("/w", headers={"Authorization": "Bearer another"}).status_code == 200


def test_without_a_database_each_process_has_its_own_buckets() -> None:
    one, two = TestClient(_limited(None)), TestClient(_limited(None))
    key = {"Authorization": "Bearer a-user-token"}
    assert [one.post("/w", headers=key).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert two.post("/w", headers=key).status_code == 200  # another process: a fresh bucket


def _middleware(app: ASGIApp) -> WriteRateLimit:
    while not isinstance(app, WriteRateLimit):
        app = app.app  # type: ignore[attr-defined]
    return app


def _settings(tmp_path: Path, database: str | None, workers: int = 1) -> Settings:
    return Settings(
        store=str(tmp_path / "store"),
        admin_key=ADMIN_KEY,
        database=database,
        workers=workers,
        search_enabled=False,
        linking_enabled=False,
        write_rate_limit=2,
        write_rate_window=3600,
    )


def test_the_api_keeps_its_buckets_in_postgresql_when_database_is_set(
    tmp_path: Path, postgres_url: str
) -> None:
    settings = _settings(tmp_path, postgres_url)
    assert shared_rate_limit(settings)
    catalog = Catalog(settings)
    try:
        with TestClient(create_app(settings, catalog), raise_server_exceptions=False) as c:
            limiter = _middleware(c.app.middleware_stack)  # type: ignore[attr-defined]
            assert limiter.shared is not None
            statuses = [c.post("/datasets", json={"name": "x"}).status_code for _ in range(3)]
            assert statuses[2] == 429 and 429 not in statuses[:2], statuses
            assert c.post("/datasets", json={"name": "a"}, headers=AUTH).status_code == 200
        # the bucket is in the database, where another replica finds it drained
        other = SharedBuckets(PostgresDatabase(postgres_url, NAME), 2, 3600)
        assert other.take("a:testclient") > 0
        other.close()
    finally:
        catalog.close()


def test_one_process_keeps_its_buckets_in_memory_and_workers_share_sqlite(
    tmp_path: Path,
) -> None:
    assert not shared_rate_limit(_settings(tmp_path, None))
    assert shared_rate_limit(_settings(tmp_path, None, workers=2))
    settings = _settings(tmp_path, None)
    catalog = Catalog(settings)
    try:
        with TestClient(create_app(settings, catalog), raise_server_exceptions=False) as c:
            assert _middleware(c.app.middleware_stack).shared is None  # type: ignore[attr-defined]
            statuses = [c.post("/datasets", json={"name": "x"}).status_code for _ in range(3)]
            assert statuses[2] == 429
    finally:
        catalog.close()
    assert not (settings.state_path / f"{NAME}.sqlite").exists()
