"""Bulk imports on every core: mapping and SHACL validation in worker processes, one writer.

This module owns the parallel form of ``Catalog.save_many`` for large imports (``aiod-kg
import --jobs N``, ``bench/scale.py``). A write is two halves (docs/design.md section 2):
the pure half -- server fields, field-table mapping, SHACL validation, the AIoD JSON
document (``kg.prepare``) -- needs nothing but the record, so ``jobs`` worker processes
(spawned once; the shapes compiled once in each) run it; the writing half -- platform-id
admission, commit timestamps, journal, store bulk load, catalogue index -- stays in this
process, under the catalog's write lock (``Catalog._commit_writes``, the same code as every
other write). The batches are pipelined: while the writer commits batch k the workers
prepare the next ones, so the writer does not wait for them.

Each record still succeeds or fails on its own, with the same ``SaveResult`` as
``save_many``; a worker's crash stops the import with nothing half-written (only whole
batches are written, through the journalled path; kg/recovery.py rolls back an interrupted
one). An upsert looks up the asset it replaces when its batch is dispatched; if that asset
changed, vanished or appeared meanwhile (an earlier batch of the same import, another
writer), the record is written again through ``save_many`` so it gets the serial answer.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from dataclasses import replace as dataclass_replace
from typing import Any, Literal

from kg.catalog import Catalog, ChangeEvent, _Write
from kg.errors import Conflict, NotFound
from kg.model.fields import ASSET_TYPES, AssetType
from kg.model.rdf_mapping import Conversion
from kg.prepare import Prepared, SaveResult, prepare_batch, render, serialise
from kg.recovery import now
from kg.store.index import Entry

Mode = Literal["create", "upsert"]
AHEAD = 3  # batches prepared ahead of the writer, per worker
COMMIT_RECORDS = 5000  # prepared batches written together up to this many records
ORPHAN_CHECK = 1.0  # seconds between a worker's looks at whether its writer is alive

# ------------------------------------------------------------------ worker processes

_worker: dict[str, Any] = {}


def _start_worker(base_url: str, validator: str, quads: bool, writer: int | None) -> None:
    """A worker's start: its settings, and the shapes compiled before the first batch.
    ``quads``: serialise new assets to N-Quads here (the store takes them)."""
    _worker.update(base_url=base_url, validator=validator, quads=quads)
    if writer is not None:  # a worker process (not a test calling this in its own)
        threading.Thread(target=_orphaned, args=(writer,), daemon=True).start()
    prepare_batch(ASSET_TYPES["datasets"], base_url, [{"name": "warm-up"}], now(), validator)


def _orphaned(writer: int) -> None:
    """A worker whose writer (its parent, ``writer``) died -- killed: no shutdown -- exits
    instead of waiting forever for a reader of its answers (its siblings hold the other end
    of that pipe); also when the writer died before this worker started."""
    while os.getppid() == writer:
        time.sleep(ORPHAN_CHECK)
    os._exit(1)


@dataclass
class _Batch:
    results: dict[int, SaveResult]
    prepared: list[Prepared]
    timings: dict[str, float]


def _prepare_in_worker(
    collection: str, records: Sequence[Any], timestamp: str, previous: list[Entry | None] | None
) -> _Batch:
    """Convert, validate and render one batch (runs in a worker process)."""
    asset = ASSET_TYPES[collection]
    base_url = _worker["base_url"]
    timings: dict[str, float] = {}
    results, prepared = prepare_batch(
        asset, base_url, records, timestamp, _worker["validator"], previous, timings
    )
    for item in prepared:
        item.data = render(item, asset, base_url)
        if _worker["quads"] and item.created:  # N-Quads text: cheap to send, loaded as is
            serialise(item)
        else:  # what validation needed (node specs, value paths) is not sent back
            item.conversion = Conversion(item.conversion.iri, item.conversion.triples)
    return _Batch(results, prepared, timings)


# ------------------------------------------------------------------ the writer


@dataclass
class _Pending:
    asset: AssetType
    records: list[Any]
    previous: list[Entry | None] | None
    future: Future[_Batch]


class BulkImport:
    """Imports batches of records with ``jobs`` worker processes preparing them and this
    process writing them (``jobs=0``: no worker, ``save_many`` itself). Use as a context
    manager (the workers stop on exit)."""

    def __init__(self, catalog: Catalog, jobs: int = 2) -> None:
        self.catalog = catalog
        self.jobs = max(0, jobs)
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> BulkImport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            # the workers hold no state worth keeping: stopped, not waited for (after a worker
            # died, the executor's manager thread could miss it and shutdown(wait=True) hung)
            processes = list(getattr(pool, "_processes", {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.join(timeout=5)
                if process.is_alive():
                    process.kill()
                    process.join(timeout=5)

    def _workers(self) -> ProcessPoolExecutor:
        if self._pool is None:
            settings = self.catalog.settings
            self._pool = ProcessPoolExecutor(
                self.jobs,
                # spawn, not fork: the writer holds RocksDB, SQLite and lock handles and threads
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(
                    self.catalog.base_url,
                    settings.validator,
                    self.catalog.store.takes_nquads,
                    os.getpid(),
                ),
            )
        return self._pool

    def save(
        self, batches: Iterable[tuple[AssetType, Sequence[Any]]], mode: Mode = "create"
    ) -> Iterator[tuple[AssetType, list[SaveResult]]]:
        """Each batch's results (as ``Catalog.save_many`` answers them), in the batches'
        order, as they are written."""
        if self.jobs == 0:
            for asset, records in batches:
                yield asset, self.catalog.save_many(asset, records, mode)
            return
        pool = self._workers()
        queue: deque[_Pending] = deque()
        for asset, records in batches:
            records = list(records)
            previous = self.catalog.replaced_entries(asset, records) if mode == "upsert" else None
            future = pool.submit(_prepare_in_worker, asset.collection, records, now(), previous)
            queue.append(_Pending(asset, records, previous, future))
            if len(queue) > AHEAD * self.jobs:
                yield from self._commit(self._group(queue), mode)
        while queue:
            yield from self._commit(self._group(queue), mode)

    @staticmethod
    def _group(queue: deque[_Pending]) -> list[_Pending]:
        """The next batch, and those after it that are prepared already, up to
        ``COMMIT_RECORDS`` records: written together (fewer, larger store bulk loads)."""
        group = [queue.popleft()]
        size = len(group[0].records)
        while queue and queue[0].future.done() and size + len(queue[0].records) <= COMMIT_RECORDS:
            size += len(queue[0].records)
            group.append(queue.popleft())
        return group

    def _commit(
        self, group: list[_Pending], mode: Mode
    ) -> Iterator[tuple[AssetType, list[SaveResult]]]:
        """Write prepared batches (one lock hold, journal, store and index transaction), then
        answer each batch."""
        catalog = self.catalog
        prepared = [pending.future.result() for pending in group]  # a worker's crash: raises
        writes = []
        for pending, batch in zip(group, prepared, strict=True):
            for stage, seconds in batch.timings.items():
                catalog.timings[stage] = catalog.timings.get(stage, 0.0) + seconds
            for item in batch.prepared:
                before = pending.previous[item.index] if pending.previous is not None else None
                if before is None:
                    writes.append(_Write(pending.asset, item))
                else:  # checked against the asset as it is at commit (prepared again if not)
                    data = pending.records[item.index]
                    writes.append(_Write(pending.asset, item, [], before.identifier, before, data))
        outcomes = iter(catalog._commit_writes(writes, isolate=False))
        for pending, batch in zip(group, prepared, strict=True):
            yield self._answer(pending, batch, [next(outcomes) for _ in batch.prepared], mode)

    def _answer(
        self,
        pending: _Pending,
        batch: _Batch,
        outcomes: list[Prepared | BaseException],
        mode: Mode,
    ) -> tuple[AssetType, list[SaveResult]]:
        """One batch's results from its writes' outcomes; its change events."""
        catalog, asset, results = self.catalog, pending.asset, batch.results
        written: list[Prepared] = []
        again: list[int] = []
        ours = {o.identifier for o in outcomes if isinstance(o, Prepared)}
        for item, outcome in zip(batch.prepared, outcomes, strict=True):
            if (
                mode == "upsert"
                and isinstance(outcome, Conflict | NotFound)
                and getattr(outcome, "existing", None) not in ours
            ):  # its target changed since dispatch: written the serial way
                again.append(item.index)
            elif isinstance(outcome, Conflict):  # (save_many's answer to a twin in a batch)
                results[item.index] = SaveResult(item.index, conflict=outcome.existing)
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                written.append(outcome)
                results[item.index] = SaveResult(item.index, outcome.identifier, outcome.created)
        if catalog._listeners and written:
            catalog._emit(
                ChangeEvent("upsert", asset, item.identifier, item.data) for item in written
            )
        for position in again:
            (result,) = catalog.save_many(asset, [pending.records[position]], mode)
            results[position] = dataclass_replace(result, index=position)
        return asset, [results[i] for i in sorted(results)]


def default_jobs() -> int:
    """Worker processes for a bulk import: one per core (the writer overlaps with them)."""
    return max(1, len(os.sched_getaffinity(0)))
