"""Shared fixtures: a catalog on a temporary store, an in-process API client, and a real
``aiod-kg serve`` process (tests/support/server.py); and the markers given by fixture:
a test using a fixture tagged ``starts_server`` / ``needs_engine`` is marked ``server`` /
``engine`` (``pytest -m "not server and not browser and not engine"`` is the in-process part).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from kg.catalog import Catalog
from kg.settings import Settings
from tests.support.data import ADMIN_KEY
from tests.support.postgres import PostgresServer, binaries, postgres_server
from tests.support.server import LiveServer, needs_engine, running_server, starts_server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        names: set[str] = set()
        for name in getattr(item, "fixturenames", ()):
            for definition in info.name2fixturedefs.get(name, ()):
                names.update(getattr(definition.func, "aiod_kg_markers", ()))
        for name in sorted(names):
            item.add_marker(name)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="Where the `settings` fixture keeps the relational state: SQLite files beside the "
        "store (the default) or a fresh database of a PostgreSQL cluster on loopback "
        "(`make test` runs the catalog, store and access tests both ways).",
    )


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    database = None
    if request.config.getoption("--database") == "postgresql":
        database = request.getfixturevalue("postgres_url")
    return Settings(
        store=str(tmp_path / "store"),
        admin_key=ADMIN_KEY,
        base_url="http://127.0.0.1:8000",
        database=database,
    )


@pytest.fixture
def catalog(settings: Settings) -> Iterator[Catalog]:
    cat = Catalog(settings)
    yield cat
    cat.close()


@pytest.fixture
def client(settings: Settings, catalog: Catalog) -> Iterator[TestClient]:
    with TestClient(create_app(settings, catalog), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
@starts_server
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A fresh server (empty store) for one test."""
    with running_server(tmp_path / "live-store") as server:
        yield server


@pytest.fixture(scope="module")
@starts_server
def module_live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server shared by the tests of a module (start-up costs seconds)."""
    with running_server(tmp_path_factory.mktemp("live") / "store") as server:
        yield server


@pytest.fixture(scope="session")
@needs_engine
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL cluster on loopback for the session (tests/support/postgres.py)."""
    if binaries() is None:
        pytest.skip("PostgreSQL is not installed (.ci/run installs it)")
    with postgres_server() as server:
        yield server


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> str:
    """A new empty database of the session's cluster, for one test."""
    return postgres.create_database()
