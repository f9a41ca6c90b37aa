"""The catalog core without HTTP: batch writes, upserts, atomicity, crash recovery, rebuild."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kg.catalog import Catalog, ChangeEvent, SaveResult
from kg.errors import Conflict, Invalid, NotFound
from kg.model.fields import ASSET_TYPES
from kg.model.rdf_mapping import Lit, Term
from kg.settings import Settings

DATASETS = ASSET_TYPES["datasets"]


def _text(term: Term) -> str:
    """A literal's lexical form (a keyword is never an IRI)."""
    assert isinstance(term, Lit)
    return term.lexical


def record(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": f"dataset {i}",
        "platform": "openml",
        "platform_resource_identifier": str(i),
        **extra,
    }


def test_save_many_isolates_bad_records(catalog: Catalog) -> None:
    records: list[Any] = [record(i) for i in range(10)]
    records[3] = record(3, date_published="not a date")
    records[6] = "not an object"
    records[8] = record(1)  # same platform id as record 1 in the same batch
    results = catalog.save_many(DATASETS, records)
    assert [r.ok for r in results] == [
        True,
        True,
        True,
        False,
        True,
        True,
        False,
        True,
        False,
        True,
    ]
    assert results[3].problems[0].field == "date_published"
    assert results[8].conflict == results[1].identifier
    assert catalog.count(DATASETS) == 7


def test_upsert_is_idempotent_and_keeps_identifiers(catalog: Catalog) -> None:
    first = catalog.save_many(DATASETS, [record(i) for i in range(5)], mode="upsert")
    again = catalog.save_many(DATASETS, [record(i) for i in range(5)], mode="upsert")
    assert [r.identifier for r in first] == [r.identifier for r in again]
    assert all(r.created for r in first) and not any(r.created for r in again)
    assert catalog.count(DATASETS) == 5
    changed = catalog.save_many(DATASETS, [record(2, name="changed")], mode="upsert")
    assert changed[0].identifier == first[2].identifier
    changed_identifier = first[2].identifier
    assert changed_identifier is not None
    assert catalog.get(DATASETS, changed_identifier)["name"] == "changed"


def test_create_conflict_and_not_found(catalog: Catalog) -> None:
    identifier = catalog.create(DATASETS, record(1))
    with pytest.raises(Conflict) as raised:
        catalog.create(DATASETS, record(1))
    assert raised.value.existing == identifier
    with pytest.raises(NotFound):
        catalog.get(DATASETS, "data_" + "x" * 24)
    with pytest.raises(Invalid):
        catalog.replace(DATASETS, identifier, {"name": 3})
    assert catalog.get(DATASETS, identifier)["name"] == "dataset 1"  # nothing written


def test_change_events(catalog: Catalog) -> None:
    events: list[ChangeEvent] = []
    catalog.subscribe(events.append)
    identifier = catalog.create(DATASETS, record(1))
    catalog.replace(DATASETS, identifier, record(1, name="new"))
    catalog.delete(DATASETS, identifier)
    assert [(e.kind, e.identifier) for e in events] == [
        ("upsert", identifier),
        ("upsert", identifier),
        ("delete", identifier),
    ]
    assert events[1].asset is not None and events[1].asset["name"] == "new"


def test_deletes_leave_a_tombstone(catalog: Catalog) -> None:
    identifier = catalog.create(DATASETS, record(1))
    catalog.delete(DATASETS, identifier)
    assert catalog.index.get(identifier) is None
    tombstone = catalog.index.get(identifier, include_deleted=True)
    assert tombstone is not None and tombstone.deleted
    assert not catalog.store.has_graph(catalog.iri(DATASETS, identifier))


def test_replace_is_atomic_for_readers(catalog: Catalog) -> None:
    """A replace is one update request: the graph is never seen empty or mixed."""
    import threading

    identifier = catalog.create(DATASETS, record(1, keyword=["v0"]))
    iri = catalog.iri(DATASETS, identifier)
    stop = threading.Event()
    seen: set[tuple[str, ...]] = set()

    def reader() -> None:
        while not stop.is_set():
            keywords = tuple(
                sorted(_text(o) for s, p, o in catalog.store.graph(iri) if p.endswith("#keyword"))
            )
            seen.add(keywords)

    thread = threading.Thread(target=reader)
    thread.start()
    for version in range(1, 40):
        catalog.replace(DATASETS, identifier, record(1, keyword=[f"v{version}", f"w{version}"]))
    stop.set()
    thread.join()
    for keywords in seen:
        assert keywords == ("v0",) or (len(keywords) == 2 and keywords[0][1:] == keywords[1][1:]), (
            keywords
        )


def test_interrupted_write_is_repaired_on_open(settings: Settings) -> None:
    """A crash between the store write and the index write: the journal repairs the index:
    uncommitted creates are rolled back, replaces and deletes rolled forward."""
    catalog = Catalog(settings)
    kept = catalog.create(DATASETS, record(1))
    # simulate the crash: journal + store written, index row never committed
    catalog.index.mark_pending([("data_" + "A" * 24, "datasets"), (kept, "datasets")])
    conversion_iri = catalog.iri(DATASETS, "data_" + "A" * 24)
    from kg.model.rdf_mapping import asset_to_triples

    conversion = asset_to_triples(
        DATASETS,
        record(2),
        conversion_iri,
        settings.base,
        {
            "identifier": "data_" + "A" * 24,
            "aiod_entry": {
                "status": "published",
                "date_created": "2024-01-01T00:00:00",
                "date_modified": "2024-01-01T00:00:00",
            },
        },
    )
    catalog.store.replace_graphs({conversion_iri: conversion.triples})
    catalog.store.delete_graphs([catalog.iri(DATASETS, kept)])
    catalog.close()

    reopened = Catalog(settings)
    try:
        assert reopened.index.pending() == []
        # the create never committed: rolled back, graph dropped
        assert not reopened.store.has_graph(conversion_iri)
        assert reopened.index.get("data_" + "A" * 24, include_deleted=True) is None
        assert reopened.index.get(kept) is None  # its graph was gone: now a tombstone
        assert reopened.count(DATASETS) == 0
    finally:
        reopened.close()


def test_missing_index_is_rebuilt_from_the_store(settings: Settings) -> None:
    catalog = Catalog(settings)
    ids = [catalog.create(DATASETS, record(i)) for i in range(3)]
    dialect = catalog.index.dialect
    catalog.close()
    if dialect == "sqlite":
        Path(settings.store_path / "catalog.sqlite").unlink()
        for suffix in ("-wal", "-shm"):
            Path(str(settings.store_path / "catalog.sqlite") + suffix).unlink(missing_ok=True)
    else:  # --database=postgresql: the catalog's schema is gone
        import psycopg

        assert settings.database is not None
        with psycopg.connect(settings.database.get_secret_value(), autocommit=True) as db:
            db.execute("DROP SCHEMA catalog CASCADE")
    reopened = Catalog(settings)
    try:
        assert sorted(reopened.index.identifiers("datasets")) == sorted(ids)
        assert reopened.by_platform(DATASETS, "openml", "2")["identifier"] == ids[2]
    finally:
        reopened.close()


def test_concurrent_creates_commit_in_date_order(catalog: Catalog) -> None:
    """Creates are converted and validated outside the write lock, in parallel; their dates are
    still those of their commits, so the change feed's order never goes back in time (an
    incremental harvest by date_modified_after would otherwise miss an asset)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=6) as pool:
        made = list(pool.map(lambda i: catalog.create(DATASETS, record(i)), range(60)))
    assert len(set(made)) == 60
    changes, _ = catalog.index.feed_since(0, 1000)
    dates = []
    for _, identifier, _, _ in changes:
        entry = catalog.index.get(identifier)
        assert entry is not None
        document = catalog.get(DATASETS, identifier)
        assert document["aiod_entry"]["date_modified"] == entry.date_modified
        dates.append(entry.date_modified)
    assert dates == sorted(dates)


def test_a_create_prepared_before_a_second_boundary_takes_the_commits_time(
    catalog: Catalog,
) -> None:
    from kg.catalog import _restamp

    item = catalog._prepare(DATASETS, 0, record(1), None, None, "2020-01-02T03:04:05")
    assert not isinstance(item, SaveResult)
    _restamp(item, "2020-01-02T03:04:06")
    assert item.entry.date_created == item.entry.date_modified == "2020-01-02T03:04:06"
    dates = {o.lexical for _, _, o in item.conversion.triples if isinstance(o, Lit) and o.lexical}
    assert "2020-01-02T03:04:06" in dates and "2020-01-02T03:04:05" not in dates


def test_a_running_catalog_repairs_another_writers_interrupted_write(catalog: Catalog) -> None:
    """A writer killed between its store write and its index commit (another worker or
    replica) leaves its journal row and a graph; a running catalog repairs it within seconds,
    not only at its next start: the unacknowledged create is rolled back."""
    import time

    from kg.model.rdf_mapping import Lit, asset_iri

    datasets = ASSET_TYPES["datasets"]
    kept = catalog.create(datasets, record(1))
    orphan = "data_interruptedwrite000000001"
    iri = asset_iri(catalog.base_url, datasets, orphan)
    with catalog.write_lock:  # the other writer, up to the moment it was killed
        catalog.index.mark_pending([(orphan, datasets.collection)])
        catalog.store.replace_graphs(
            {
                iri: [
                    (
                        iri,
                        "https://schema.org/name",
                        Lit("half", "http://www.w3.org/2001/XMLSchema#string"),
                    )
                ]
            }
        )
    deadline = time.monotonic() + 30
    while catalog.index.pending() or catalog.store.has_graph(iri):
        assert time.monotonic() < deadline, "the interrupted write was not repaired"
        time.sleep(0.1)
    assert catalog.get(datasets, kept)["name"] == record(1)["name"]
    assert catalog.count(datasets) == 1
