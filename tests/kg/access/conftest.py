"""The access tables on both engines: ``database_url`` / ``module_database_url`` are None (the
SQLite files beside each store) unless pytest runs with ``--database=postgresql`` (then a fresh
database of the session's cluster, per test or per module); ``index`` is a catalogue index on
a SQLite file and on PostgreSQL whatever the option."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kg.db.database import PostgresDatabase
from kg.store.index import CatalogIndex


def _fresh(request: pytest.FixtureRequest) -> str | None:
    if request.config.getoption("--database") != "postgresql":
        return None
    url: str = request.getfixturevalue("postgres").create_database()
    return url


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str | None:
    return _fresh(request)


@pytest.fixture(scope="module")
def module_database_url(request: pytest.FixtureRequest) -> str | None:
    return _fresh(request)


@pytest.fixture(params=["sqlite", "postgresql"])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CatalogIndex]:
    if request.param == "sqlite":
        made = CatalogIndex(tmp_path / "catalog.sqlite")
    else:
        made = CatalogIndex(PostgresDatabase(request.getfixturevalue("postgres_url"), "catalog"))
    yield made
    made.close()
