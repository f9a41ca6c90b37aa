"""Bulk imports with worker processes (kg/bulk.py): the same outcome as ``save_many``,
record by record, on real stores; a worker's death leaves nothing half-written."""

from __future__ import annotations

import os
import signal
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest

from kg.bulk import BulkImport, _Batch, _Pending, _prepare_in_worker, _start_worker
from kg.catalog import Catalog, ChangeEvent, SaveResult
from kg.model.fields import ASSET_TYPES, AssetType
from kg.recovery import now
from kg.settings import Settings

DATASETS = ASSET_TYPES["datasets"]
CONTACTS = ASSET_TYPES["contacts"]
PLATFORMS = ASSET_TYPES["platforms"]


def dataset(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": f"dataset {i}",
        "description": {"plain": f"Rows of table {i}."},
        "keyword": ["tabular", f"k{i % 3}"],
        "platform": "openml",
        "platform_resource_identifier": str(i),
        **extra,
    }


def mixed() -> list[tuple[AssetType, list[Any]]]:
    """Batches of several types: valid records, broken ones, drafts, private fields, twins."""
    datasets: list[Any] = [dataset(i) for i in range(150)]
    datasets[3] = dataset(3, date_published="not a date")
    datasets[6] = "not an object"
    datasets[8] = dataset(1)  # the platform id of record 1, in the same batch
    datasets[9] = dataset(9, aiod_entry={"status": "draft"})  # the private partition
    contacts = [
        {"name": f"contact {i}", "email": [f"c{i}@example.org"], "telephone": ["+32 1"]}
        for i in range(70)
    ]
    platforms = [{"name": f"platform{i}"} for i in range(3)]
    return [
        (DATASETS, datasets[:100]),
        (CONTACTS, contacts),
        (DATASETS, datasets[100:]),
        (PLATFORMS, platforms),
    ]


def outline(results: list[SaveResult]) -> list[tuple[bool, bool, list[str], bool]]:
    return [
        (r.ok, r.created, [p.field for p in r.problems], r.conflict is not None) for r in results
    ]


def comparable(catalog: Catalog, asset: AssetType, identifier: str) -> dict[str, Any]:
    """An asset's full JSON without what differs between two imports (ids, dates)."""
    data = catalog.full(asset, identifier)
    for name in ("identifier", "ai_asset_identifier", "ai_resource_identifier"):
        data.pop(name, None)
    if asset.collection == "contacts":
        data.pop("platform_resource_identifier", None)  # the user platform: its identifier
    entry = data.get("aiod_entry")
    if isinstance(entry, dict):
        assert entry["date_created"] == entry["date_modified"]  # a create's dates: one commit
        entry.pop("date_created")
        entry.pop("date_modified")
    return data


@pytest.fixture
def other(tmp_path: Path, settings: Settings) -> Iterator[Catalog]:
    cat = Catalog(settings.model_copy(update={"store": str(tmp_path / "serial")}))
    yield cat
    cat.close()


def test_bulk_import_answers_and_writes_as_save_many(catalog: Catalog, other: Catalog) -> None:
    events: list[ChangeEvent] = []
    catalog.subscribe(events.append)
    with BulkImport(catalog, jobs=2) as bulk:
        answers = list(bulk.save(mixed()))
    serial = [(asset, other.save_many(asset, records)) for asset, records in mixed()]
    assert [a for a, _ in answers] == [a for a, _ in serial]
    for (_, got), (_, want) in zip(answers, serial, strict=True):
        assert outline(got) == outline(want)
    first = answers[0][1]
    assert first[8].conflict == first[1].identifier
    assert first[3].problems[0].field == "date_published"
    # every asset: the same JSON (private fields included) and the same index row
    for (asset, got), (_, want) in zip(answers, serial, strict=True):
        for mine, theirs in zip(got, want, strict=True):
            if not mine.ok:
                continue
            assert mine.identifier is not None and theirs.identifier is not None
            assert comparable(catalog, asset, mine.identifier) == comparable(
                other, asset, theirs.identifier
            )
            entry = catalog.entry(asset, mine.identifier)
            assert entry.status == other.entry(asset, theirs.identifier).status
            assert catalog.get(asset, mine.identifier) == catalog.from_triples(
                asset, mine.identifier, catalog.triples(asset, mine.identifier)
            )  # the document cache agrees with the graph (restamped dates included)
    assert catalog.counts() == other.counts()
    # the partitions: the draft only in the private one, contact emails never public
    draft = first[9].identifier
    assert draft is not None
    assert not catalog.store.public.graph(catalog.iri(DATASETS, draft))
    assert catalog.store.private.graph(catalog.iri(DATASETS, draft))
    contact = answers[1][1][0].identifier
    assert contact is not None
    public = catalog.store.public.graph(catalog.iri(CONTACTS, contact))
    assert public and not any("c0@example.org" in str(o) for _, _, o in public)
    assert "email" not in catalog.get(CONTACTS, contact)
    assert catalog.full(CONTACTS, contact)["email"] == ["c0@example.org"]
    # change events as save_many sends them, with the assets' public JSON
    written = {r.identifier for _, results in answers for r in results if r.ok}
    assert {e.identifier for e in events} == written
    assert all(e.asset is not None and "email" not in e.asset for e in events)
    assert catalog.index.pending() == []


def test_bulk_conflicts_across_batches(catalog: Catalog) -> None:
    with BulkImport(catalog, jobs=2) as bulk:
        created = [
            r
            for _, rs in bulk.save([(DATASETS, [dataset(1)]), (DATASETS, [dataset(1)])])
            for r in rs
        ]
    assert created[0].ok and created[1].conflict == created[0].identifier
    # an upsert of an asset written by an earlier batch of the same import replaces it
    with BulkImport(catalog, jobs=2) as bulk:
        batches = [
            (DATASETS, [dataset(1, name="again"), dataset(2)]),
            (DATASETS, [dataset(2, name="changed")]),
        ]
        upserted = [r for _, rs in bulk.save(batches, mode="upsert") for r in rs]
    assert all(r.ok for r in upserted)
    assert upserted[0].identifier == created[0].identifier and not upserted[0].created
    assert upserted[1].created and upserted[2].identifier == upserted[1].identifier
    assert catalog.get(DATASETS, created[0].identifier or "")["name"] == "again"
    assert catalog.get(DATASETS, upserted[1].identifier or "")["name"] == "changed"
    assert catalog.count(DATASETS) == 2


def test_no_job_is_save_many(catalog: Catalog) -> None:
    with BulkImport(catalog, jobs=0) as bulk:
        ((_, results),) = list(bulk.save([(DATASETS, [dataset(1), "no"])]))
    assert [r.ok for r in results] == [True, False]
    assert bulk._pool is None  # no worker process started


def test_a_dead_worker_stops_the_import_with_whole_batches_only(catalog: Catalog) -> None:
    batches = [(DATASETS, [dataset(k * 100 + i) for i in range(80)]) for k in range(8)]
    written = 0
    with BulkImport(catalog, jobs=2) as bulk:
        answers = bulk.save(batches)
        with pytest.raises(BrokenProcessPool):
            for _, results in answers:
                written += sum(r.ok for r in results)
                if written == 80:  # after the first batch: kill the workers
                    assert bulk._pool is not None
                    for pid in list(bulk._pool._processes):
                        os.kill(pid, signal.SIGKILL)
    assert written >= 80
    assert catalog.count(DATASETS) == written  # nothing of a batch that was not reported
    assert catalog.index.pending() == []
    names = list(catalog.store.graph_names())
    assert len(names) == written


def test_prepared_batches_are_written_together(catalog: Catalog) -> None:
    """Batches prepared already when the writer comes to them share one write transaction,
    and each keeps its own answers."""
    _start_worker(catalog.base_url, catalog.settings.validator, catalog.store.takes_nquads, None)
    queue: deque[_Pending] = deque()
    for k in range(3):
        records: list[Any] = [dataset(k * 10 + i) for i in range(10)]
        records[k] = dataset(0) if k else records[k]  # batches 1 and 2: a twin of record 0
        future: Future[_Batch] = Future()
        future.set_result(_prepare_in_worker("datasets", records, now(), None))
        queue.append(_Pending(DATASETS, records, None, future))
    group = BulkImport._group(queue)
    assert len(group) == 3 and not queue
    answers = [results for _, results in BulkImport(catalog, jobs=2)._commit(group, "create")]
    first = answers[0][0].identifier
    assert [[r.conflict for r in results if not r.ok] for results in answers] == [
        [],
        [first],
        [first],
    ]
    assert [len(results) for results in answers] == [10, 10, 10]
    assert catalog.count(DATASETS) == 28 == len(list(catalog.store.graph_names()))
