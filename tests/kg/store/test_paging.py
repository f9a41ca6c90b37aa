"""Deep pages of the catalogue index (kg/store/index.py): answered from kept positions, they
are the pages LIMIT/OFFSET gives, for every order and direction, with filters, and stay so
after appends, updates, deletions and writes by another index on the same database (another
process's connection and cache), on SQLite and PostgreSQL; ?sort=name orders the same on
both (ASCII case folded, code point order, missing names first)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kg.db.database import PostgresDatabase
from kg.store import index as index_module
from kg.store.index import CatalogIndex, Entry

ORDERS = [(None, False), (None, True), ("name", False), ("name", True), ("date_modified", True)]
ORDERS += [("identifier", False), ("date_created", False)]


def entry(i: int, type_: str = "datasets", name: str | None = None) -> Entry:
    day = f"2020-01-{1 + i % 28:02d}T00:00:00"
    document = (
        b"{}"
        if name is None and i % 7 == 0
        else b'{"name": "%s"}' % ((name or f"Asset {(i * 37) % 101}").encode())
    )
    return Entry(
        f"id{i:05d}", type_, "p" if i % 3 else "q", str(i), "published", day, day, document=document
    )


def pages(
    index: CatalogIndex, monkeypatch: pytest.MonkeyPatch, deep: bool, **kw: object
) -> list[list[str]]:
    """Every page of 7 of the datasets (by the kept positions if ``deep``)."""
    monkeypatch.setattr(index_module, "DEEP_OFFSET", 0 if deep else 10**9)
    out = []
    for offset in range(0, 130, 7):
        out.append([e.identifier for e in index.page("datasets", offset, 7, **kw)])  # type: ignore[arg-type]
    return out


def same(index: CatalogIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    for sort, descending in ORDERS:
        for extra in ({}, {"platform": "p"}, {"condition": ("status = ?", ["published"])}):
            kw = {"sort": sort, "descending": descending, **extra}
            expected = pages(index, monkeypatch, False, **kw)
            assert any(expected)
            assert pages(index, monkeypatch, True, **kw) == expected, kw


def test_deep_pages_are_the_offset_pages(
    open_index: Callable[[], CatalogIndex], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_module, "POSITION_CACHE", 64)  # every (order, filter) kept
    index = open_index()
    other = open_index()  # another writer, its own cache
    try:
        index.commit_entries([entry(i) for i in range(100)] + [entry(500, "models")])
        same(index, monkeypatch)
        index.commit_entries([entry(i) for i in range(100, 110)])  # appends only
        same(index, monkeypatch)
        other.commit_entries([entry(5, name="zzz renamed"), entry(111)])  # an update
        same(index, monkeypatch)
        other.commit_entries([], deletes=[("id00010", "datasets"), ("id00050", "datasets")])
        same(index, monkeypatch)
        index.commit_entries([entry(10)])  # deleted, then back (its old place)
        same(index, monkeypatch)
        other.commit_entries([entry(600, "models")])  # another type: datasets unchanged
        same(index, monkeypatch)
        assert len(pages(index, monkeypatch, True)[0]) == 7
        other.clear()
        assert pages(index, monkeypatch, True)[0] == []
    finally:
        index.close()
        other.close()


NAMES = ["beta", "Alpha", "alpha", "ALPHA", "Ärger", "zulu", "Zebra", "éclair", "_x", "10", "9"]


@pytest.mark.parametrize("descending", [False, True])
def test_sort_by_name_is_the_same_on_both_engines(
    tmp_path: Path, postgres_url: str, descending: bool
) -> None:
    entries = [entry(i, name=name) for i, name in enumerate(NAMES)]
    entries += [entry(100 + i, name=name) for i, name in enumerate(NAMES[:4])]  # ties: by seq
    entries += [entry(203), entry(210)]  # no name (entry 7k has an empty document)
    orders = []
    for index in (
        CatalogIndex(tmp_path / "index.sqlite"),
        CatalogIndex(PostgresDatabase(postgres_url, "catalog")),
    ):
        index.commit_entries(entries)
        listed = [
            e.identifier for e in index.page("datasets", 0, 100, sort="name", descending=descending)
        ]
        orders.append(listed)
        index.close()
    assert orders[0] == orders[1]
    assert len(orders[0]) == len(entries)
    first, last = (orders[0][-1], orders[0][0]) if descending else (orders[0][0], orders[0][-1])
    assert first == "id00203" and last == "id00007"  # nameless first, "éclair" after "zulu"
