"""Catalogue indexes on both engines: ``open_index()`` gives another ``CatalogIndex`` on the
same database each call (another process's or replica's connections and caches): a SQLite
file, or a fresh PostgreSQL database of the session's cluster."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kg.db.database import PostgresDatabase
from kg.store.index import CatalogIndex


@pytest.fixture(params=["sqlite", "postgresql"])
def open_index(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], CatalogIndex]]:
    opened: list[CatalogIndex] = []
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None

    def make() -> CatalogIndex:
        if url is None:
            index = CatalogIndex(tmp_path / "catalog.sqlite")
        else:
            index = CatalogIndex(PostgresDatabase(url, "catalog"))
        opened.append(index)
        return index

    yield make
    for index in opened:
        index.close()
