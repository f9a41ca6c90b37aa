"""The hot-document cache of GET by id (kg/store/document_cache.py) on both engines: a row
read once is answered from memory; the writing index evicts what it wrote at once; other
writers' changes (document, status, deletion, clearing, a feed that went backwards) reach it
through the change feed; a read that spans an eviction is not kept; memory stays bounded.
Then two ``Catalog`` objects on one database (``--database=postgresql``: PostgreSQL, where
the cache is on by default): what one writes, the other's GET reads within 1 s."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from kg.settings import Settings
from kg.store.document_cache import DocumentCache
from kg.store.embedded import EmbeddedStore
from kg.store.index import CatalogIndex, Entry
from kg.store.partition import PartitionedStore
from tests.support.data import example_records

WITHIN = 1.0  # seconds another process's change may take to reach the cache (issue 13)
NEVER = 3600.0  # a poll interval that never fires: only explicit polls follow the feed


def _entry(identifier: str, name: str = "one", status: str = "published") -> Entry:
    document = orjson.dumps({"identifier": identifier, "name": name})
    return Entry(
        identifier, "datasets", "example", identifier, status, "2024-01-01", "2024-01-02",
        document=document,
    )  # fmt: skip


def _cached(
    index: CatalogIndex, interval: float = NEVER, max_bytes: int = 1 << 20
) -> DocumentCache:
    index.cache = DocumentCache(index, max_bytes, interval=interval).start()
    return index.cache


def _get(index: CatalogIndex, identifier: str) -> Entry | None:
    return index.get(identifier, with_document=True)


def _name(entry: Entry | None) -> Any:
    assert entry is not None and entry.document is not None
    return orjson.loads(entry.document)["name"]


def test_a_hot_row_comes_from_memory_and_the_writer_reads_its_write_at_once(
    open_index: Callable[[], CatalogIndex],
) -> None:
    index = open_index()
    cache = _cached(index)  # no feed polling: the writer's own eviction alone
    index.commit_entries([_entry("data_a")])
    assert _name(_get(index, "data_a")) == "one" and cache.misses == 1
    assert _name(_get(index, "data_a")) == "one" and cache.hits == 1
    assert index.cache is not None and index.cache.lookup("data_a") is not None
    index.commit_entries([_entry("data_a", "two", status="draft")])
    again = _get(index, "data_a")
    assert _name(again) == "two" and again is not None and again.status == "draft"
    index.commit_entries([], [("data_a", "datasets")], deleted_at="2024-03-01")
    assert _get(index, "data_a") is None and cache.lookup("data_a") is None
    # other reads than GET's never go through the cache
    assert index.get("data_a", include_deleted=True) is not None


def test_other_writers_changes_reach_the_cache_through_the_feed(
    open_index: Callable[[], CatalogIndex],
) -> None:
    reader, writer = open_index(), open_index()
    cache = _cached(reader)
    writer.commit_entries([_entry("data_a"), _entry("data_b"), _entry("data_c")])
    assert cache.poll() == 3
    for identifier in ("data_a", "data_b", "data_c"):
        assert _name(_get(reader, identifier)) == "one"
    writer.commit_entries([_entry("data_a", "two")])  # a new document
    writer.commit_entries([_entry("data_b", status="rejected")])  # a status change
    writer.commit_entries([], [("data_c", "datasets")], deleted_at="2024-03-01")
    assert _name(_get(reader, "data_a")) == "one"  # not polled yet: still the kept row
    assert cache.poll() == 3
    assert _name(_get(reader, "data_a")) == "two"
    b = _get(reader, "data_b")
    assert b is not None and b.status == "rejected"
    assert _get(reader, "data_c") is None
    assert cache.poll() == 0
    writer.clear()  # the index cleared (a rebuild): everything goes
    assert cache.poll() == 1 and len(cache) == 0 and _get(reader, "data_a") is None


def test_the_feed_thread_evicts_within_a_second(open_index: Callable[[], CatalogIndex]) -> None:
    reader, writer = open_index(), open_index()
    _cached(reader, interval=0.05)
    writer.commit_entries([_entry("data_a")])
    assert _name(_get(reader, "data_a")) == "one"
    writer.commit_entries([_entry("data_a", "two")])
    deadline = time.monotonic() + WITHIN
    while _name(_get(reader, "data_a")) != "two" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _name(_get(reader, "data_a")) == "two"


def test_a_feed_that_went_backwards_empties_the_cache(
    open_index: Callable[[], CatalogIndex],
) -> None:
    reader, writer = open_index(), open_index()
    cache = _cached(reader)
    writer.commit_entries([_entry("data_a"), _entry("data_b")])
    cache.poll()
    assert _get(reader, "data_a") is not None and len(cache) == 1
    with writer.transaction() as db:  # another database's history (a restore)
        db.execute("DELETE FROM feed")
    assert cache.poll() == 1 and len(cache) == 0
    assert cache.position == 0


def test_a_read_spanning_an_eviction_is_not_kept(open_index: Callable[[], CatalogIndex]) -> None:
    reader, writer = open_index(), open_index()
    cache = _cached(reader)
    writer.commit_entries([_entry("data_a")])
    cache.poll()

    def read_then_change() -> Entry | None:
        old = reader.get("data_a")  # the row as it was when the read began ...
        writer.commit_entries([_entry("data_a", "two")])  # ... changed before it is kept
        cache.poll()
        return old

    assert cache.load("data_a", read_then_change) is not None
    assert cache.lookup("data_a") is None  # the old row was not kept
    assert _name(_get(reader, "data_a")) == "two"


def test_memory_stays_within_its_bound_least_recently_used_out(
    open_index: Callable[[], CatalogIndex],
) -> None:
    index = open_index()
    one = len(_entry("data_0").document or b"") + 400  # a row's size (ROW_OVERHEAD)
    cache = _cached(index, max_bytes=3 * one)
    index.commit_entries([_entry(f"data_{i}") for i in range(5)])
    for i in range(3):
        _get(index, f"data_{i}")
    _get(index, "data_0")  # now the most recently used
    _get(index, "data_3")
    assert len(cache) == 3 and cache.size <= 3 * one
    assert cache.lookup("data_1") is None
    assert {i for i in range(5) if cache.lookup(f"data_{i}") is not None} == {0, 2, 3}
    assert _get(index, "missing") is None and len(cache) == 3  # misses are not kept


# ----------------------------------------------------------------------- two catalogs


@pytest.fixture
def two_catalogs(settings: Settings, tmp_path: Path) -> Iterator[tuple[Catalog, Catalog]]:
    """Two catalogs on one store and one catalogue database (two replicas' views)."""
    store = PartitionedStore(EmbeddedStore(tmp_path / "public"), EmbeddedStore(tmp_path / "p"))
    writer = Catalog(settings, store=store, index=CatalogIndex.from_settings(settings))
    reader = Catalog(settings, store=store, index=CatalogIndex.from_settings(settings))
    if reader.index.cache is None:  # SQLite: not on by default; the same mechanism
        _cached(reader.index, interval=0.1)
    yield writer, reader
    reader.index.close()
    writer.close()


def _eventually(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WITHIN
    while not check() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert check()


def test_what_one_catalog_writes_the_others_get_reads_within_a_second(
    two_catalogs: tuple[Catalog, Catalog],
) -> None:
    writer, reader = two_catalogs
    asset = ASSET_TYPES["datasets"]
    record = dict(example_records("datasets")[0])
    record["platform_resource_identifier"] = uuid.uuid4().hex
    identifier = writer.create(asset, record)

    def read() -> Entry | None:
        return reader.index.get(identifier, with_document=True)

    _eventually(lambda: read() is not None)
    for _ in range(20):  # hot
        assert _name(read()) == record["name"]
    assert reader.index.cache is not None and reader.index.cache.lookup(identifier) is not None
    writer.replace(asset, identifier, {**record, "name": "Renamed by the other catalog"})
    _eventually(lambda: _name(read()) == "Renamed by the other catalog")
    writer.delete(asset, identifier)
    _eventually(lambda: read() is None)
