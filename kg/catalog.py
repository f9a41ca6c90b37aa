"""The catalog: the one place where assets are created, replaced, deleted and read.

Every write follows the flow of docs/design.md section 2: AIoD JSON -> RDF (field
table) -> SHACL validation -> atomic graph replace in the store + index row -> change event.
Nothing is written for a record that fails validation.

Writes are serialised under one write lock (shared with other processes on the same index).
Single creates and replaces are converted and validated in their callers' threads, then
committed in batches with those of other threads arriving meanwhile (group commit,
kg/group_commit.py): one lock hold, one journal, one store and one index transaction per
batch, each caller with its own outcome (``_commit_writes``).

The pure half of a write (server fields, mapping, validation, the cached document) is
``kg.prepare``; a bulk import prepares it in worker processes and commits here (``kg.bulk``).
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from dataclasses import replace as dataclass_replace
from typing import Any, Literal

import orjson

from kg.errors import Conflict, Invalid, NotFound
from kg.group_commit import GroupCommit, OwnedLock
from kg.migrations import run_migrations
from kg.model.fields import ASSET_TYPES, PREFIX_TO_TYPE, AssetType
from kg.model.identifiers import IDENTIFIER_RE
from kg.model.private import has_private, public_view, split_triples
from kg.model.rdf_mapping import Lit, Problem, Triple, triples_to_asset
from kg.model.validation import validate_conversions
from kg.prepare import (
    DEFAULT_STATUS,
    USER_PLATFORM,
    Prepared,
    SaveResult,
    nquads,
    prepare_batch,
    prepare_record,
    render,
    unstorable,
)
from kg.recovery import Recovery, now
from kg.settings import Settings
from kg.store.backends import open_store
from kg.store.embedded import EmbeddedStore, GraphStore
from kg.store.index import CatalogIndex, Entry
from kg.store.partition import PartitionedStore, is_public_status

log = logging.getLogger("kg.catalog")

JSON = dict[str, Any]
XSD_DATETIME = "http://www.w3.org/2001/XMLSchema#dateTime"
_ENTRY_DATES = ("http://purl.org/dc/terms/created", "http://purl.org/dc/terms/modified")
BULK_WRITE_MIN = 64  # batches with at least this many new assets use the store's bulk loader


@dataclass(frozen=True)
class ChangeEvent:
    kind: Literal["upsert", "delete"]
    asset_type: AssetType
    identifier: str
    asset: JSON | None = None


_Prepared = Prepared  # the name the write path uses
__all__ = ["DEFAULT_STATUS", "USER_PLATFORM", "Catalog", "ChangeEvent", "SaveResult", "now"]


@dataclass
class _Write:
    """One create or replace submitted to the group commit, converted and validated already
    (``problems``: why it is refused, reported after the replace's NotFound / precondition)."""

    asset: AssetType
    item: _Prepared | None
    problems: list[Problem] = field(default_factory=list)
    identifier: str | None = None  # a replace: the asset it replaces
    previous: Entry | None = None  # ... as it was when ``item`` was prepared
    data: Any = None  # ... and its record, prepared again if the asset changed meanwhile
    precondition: Callable[[Entry], None] | None = None


def _restamp(item: _Prepared, timestamp: str) -> None:
    """Give a prepared write the commit's time: its ``aiod_entry`` dates in the triples
    (``{iri}#aiod_entry`` dct:created -- of a create -- and dct:modified, set by
    ``_prepare``) and its index row."""
    old = item.entry.date_modified
    dates = _ENTRY_DATES if item.created else _ENTRY_DATES[1:]
    node = item.conversion.iri + "#aiod_entry"
    stamped = Lit(timestamp, XSD_DATETIME)
    item.conversion.triples = [
        (s, p, stamped)
        if s == node and p in dates and isinstance(o, Lit) and o.lexical == old
        else (s, p, o)
        for s, p, o in item.conversion.triples
    ]
    created = timestamp if item.created else item.entry.date_created
    item.entry = dataclass_replace(item.entry, date_created=created, date_modified=timestamp)
    entry = item.data.get("aiod_entry") if item.data is not None else None
    if isinstance(entry, dict):  # rendered already (a bulk import's worker): the same dates
        entry["date_modified"] = timestamp
        if item.created:
            entry["date_created"] = timestamp


_unstorable = unstorable


class Catalog(Recovery):
    """All reads and writes of assets. Thread-safe; writes are serialised (group-committed).
    Keeping the index equal to the store after an interrupted write: ``kg.recovery``."""

    def __init__(
        self, settings: Settings, store: GraphStore | None = None, index: CatalogIndex | None = None
    ) -> None:
        self.settings = settings
        self.base_url = settings.base
        if store is None or index is None:
            store = store or open_store(settings)  # AIOD_KG_STORE: directory or sparql+http://
            index = index or CatalogIndex.from_settings(settings)
        if not isinstance(store, PartitionedStore):
            # a caller's single store: non-public assets go to an in-memory partition beside it
            store = PartitionedStore(store, EmbeddedStore(None))
        self.store: PartitionedStore = store
        self.index = index
        # re-entrant, and a file lock shared with other processes on this index (--workers)
        self._write_lock = OwnedLock(index.write_lock())
        # single creates and replaces arriving together are written together (one lock hold,
        # one store and one index transaction); two writes of one asset never share a batch
        self._group: GroupCommit[_Write, _Prepared] = GroupCommit(
            self._commit_writes, key=lambda write: write.identifier
        )
        self._listeners: list[Callable[[ChangeEvent], None]] = []
        # cumulative seconds of save_many's stages (the harvest report shows their shares)
        self.timings: dict[str, float] = {"convert": 0.0, "validate": 0.0, "write": 0.0}
        with self._write_lock:  # another process's write in progress is not a crashed one
            self.recover()
            run_migrations(self)  # data written by earlier versions (kg/migrations.py)
        # a writer in another process (a worker, a replica) killed mid-write left its journal:
        # the survivors repair it, not only the next start
        self._closing = threading.Event()
        self._repairer = threading.Thread(
            target=self._repair_others, name="catalog-repair", daemon=True
        )
        self._repairer.start()

    # ------------------------------------------------------------------ plumbing

    def subscribe(self, listener: Callable[[ChangeEvent], None]) -> None:
        self._listeners.append(listener)

    def _emit(self, events: Iterable[ChangeEvent]) -> None:
        for event in events:
            for listener in self._listeners:
                listener(event)

    @property
    def write_lock(self) -> OwnedLock:
        """The lock every write of this process holds (re-entrant): a read-modify-write such
        as a status change holds it around both steps so no write lands in between."""
        return self._write_lock

    def close(self) -> None:
        self._closing.set()
        if self._repairer.is_alive() and self._repairer is not threading.current_thread():
            self._repairer.join(timeout=5)
        self.index.close()
        self.store.close()
        self._write_lock.close()

    # ------------------------------------------------------------------ writes

    def _prepare(
        self,
        asset: AssetType,
        position: int,
        data: Any,
        identifier: str | None,
        previous: Entry | None,
        timestamp: str,
    ) -> _Prepared | SaveResult:
        return prepare_record(asset, self.base_url, position, data, identifier, previous, timestamp)

    def save_many(
        self,
        asset: AssetType,
        records: Sequence[Any],
        mode: Literal["create", "upsert"] = "create",
    ) -> list[SaveResult]:
        """Validate and write a batch of records; each record succeeds or fails on its own.

        ``create`` refuses a record whose ``(platform, platform_resource_identifier)`` exists
        (``SaveResult.conflict``); ``upsert`` replaces that asset, keeping its identifier.
        """
        if mode == "create":
            # nothing of a create depends on what is stored: convert and validate it before
            # taking the write lock, so concurrent writers (threads, --workers) overlap there
            results, prepared, _ = self._convert_and_validate(asset, records, mode)
            writable = self._admit(asset, prepared, results)
        else:
            with self._write_lock:  # an upsert finds the asset it replaces: all under the lock
                results, prepared, _ = self._convert_and_validate(asset, records, mode)
                writable = self._admit(asset, prepared, results)
        for item in writable:
            results[item.index] = SaveResult(item.index, item.identifier, item.created)
        if self._listeners:
            self._emit(
                ChangeEvent("upsert", asset, item.identifier, item.data) for item in writable
            )
        return [results[i] for i in sorted(results)]

    def replaced_entries(self, asset: AssetType, records: Sequence[Any]) -> list[Entry | None]:
        """The index entry an upsert of each record replaces (same platform and platform
        identifier), or None."""
        return [
            self.index.find_platform(
                asset.collection,
                str(data.get("platform")),
                str(data.get("platform_resource_identifier")),
            )
            if isinstance(data, dict) and data.get("platform")
            else None
            for data in records
        ]

    def _convert_and_validate(
        self, asset: AssetType, records: Sequence[Any], mode: Literal["create", "upsert"]
    ) -> tuple[dict[int, SaveResult], list[_Prepared], str]:
        """Map and validate records: (refused ones by position, valid ones, their timestamp)."""
        timestamp = now()
        previous = self.replaced_entries(asset, records) if mode == "upsert" else None
        results, valid = prepare_batch(
            asset,
            self.base_url,
            records,
            timestamp,
            self.settings.validator,
            previous,
            self.timings,
        )
        return results, valid, timestamp

    def _admit(
        self, asset: AssetType, prepared: Sequence[_Prepared], results: dict[int, SaveResult]
    ) -> list[_Prepared]:
        """Under the write lock: refuse platform-id conflicts, write the rest; returns them."""
        outcomes = self._commit_writes([_Write(asset, item) for item in prepared], isolate=False)
        writable: list[_Prepared] = []
        for item, outcome in zip(prepared, outcomes, strict=True):
            if isinstance(outcome, Conflict):
                results[item.index] = SaveResult(item.index, conflict=outcome.existing)
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                writable.append(outcome)
        return writable

    def _commit_writes(
        self, writes: Sequence[_Write], isolate: bool = True
    ) -> list[_Prepared | BaseException]:
        """Write a batch under the write lock (one journal, store and index transaction):
        each write's prepared asset, or the exception it alone raises. ``isolate``: when the
        batch's store write fails, write its assets one by one so each gets its own outcome."""
        outcomes: list[_Prepared | BaseException] = []
        with self._write_lock:
            clock = time.perf_counter()
            committed = now()  # dates in commit order: incremental harvests rely on it
            claimed: dict[tuple[str, str, str], str] = {}  # platform ids taken in this batch
            admitted: list[tuple[int, _Prepared]] = []
            for position, write in enumerate(writes):
                try:
                    item = self._admit_write(write, committed, claimed)
                except Exception as exc:  # NotFound, 412, Invalid, Conflict: this write's own
                    outcomes.append(exc)
                    continue
                outcomes.append(item)
                admitted.append((position, item))
            try:
                self._write([item for _, item in admitted])
            except Exception:
                if not isolate or len(admitted) < 2:
                    raise
                for position, item in admitted:  # recover() rolled the batch back: one by one
                    try:
                        self._write([item])
                    except Exception as exc:
                        outcomes[position] = exc
            self._tick("write", clock)
        return outcomes

    def _admit_write(
        self, write: _Write, committed: str, claimed: dict[tuple[str, str, str], str]
    ) -> _Prepared:
        """Under the write lock: the write's asset, checked against the catalog as the batch
        sees it (a replace's target and precondition, platform ids); raises to refuse it."""
        asset, item = write.asset, write.item
        if write.identifier is not None:  # a replace
            current = self._existing(asset, write.identifier)
            if write.precondition is not None:
                write.precondition(current)
            previous = write.previous
            if not write.problems and (
                previous is None
                or (current.date_created, current.status)
                != (previous.date_created, previous.status)
            ):  # what the replace carries over changed since it was prepared: prepare again
                write = self._prepare_replace(asset, write.identifier, write.data, current)
                item = write.item
        if write.problems:
            raise Invalid(write.problems)
        assert item is not None
        if item.entry.date_modified != committed:
            _restamp(item, committed)
        platform, resource_id = item.entry.platform, item.entry.platform_resource_identifier
        if platform is not None and resource_id is not None:
            claim = (asset.collection, platform, resource_id)
            other = claimed.get(claim)
            if other is None:
                existing = self.index.find_platform(*claim)
                other = existing.identifier if existing else None
            if other is not None and other != item.identifier:
                self._raise_or_identifier(asset, SaveResult(item.index, conflict=other))
            claimed[claim] = item.identifier
        return item

    def _prepare_replace(
        self,
        asset: AssetType,
        identifier: str,
        data: Any,
        previous: Entry,
        precondition: Callable[[Entry], None] | None = None,
    ) -> _Write:
        """A replace converted and validated against ``previous`` (the asset it replaces)."""
        write = _Write(asset, None, [], identifier, previous, data, precondition)
        item = self._prepare(asset, 0, data, identifier, previous, now())
        if isinstance(item, SaveResult):
            write.problems = item.problems
            return write
        problems = validate_conversions([item.conversion], engine=self.settings.validator)
        write.problems = problems.get(item.conversion.iri) or _unstorable(item.conversion)
        if not write.problems:
            write.item = item
        return write

    def _submit(self, write: _Write) -> _Prepared:
        """Commit one write with whatever others arrive meanwhile (kg/group_commit.py)."""
        if self._write_lock.held():  # a leader in another thread would wait for our lock
            (outcome,) = self._commit_writes([write])
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome
        return self._group.submit(write)

    def _tick(self, stage: str, since: float) -> float:
        now_ = time.perf_counter()
        self.timings[stage] += now_ - since
        return now_

    def _write(self, items: Sequence[_Prepared]) -> None:
        """Journal, write the graphs, then commit the index rows (see ``recover``)."""
        if not items:
            return
        for item in items:
            if item.data is None:  # documents and change events: no private fields
                item.data = render(item, ASSET_TYPES[item.entry.type], self.base_url)
            item.entry = dataclass_replace(item.entry, document=orjson.dumps(item.data))
        self.index.mark_pending((i.identifier, i.entry.type) for i in items)
        # non-public assets (drafts, ...) go to the private partition (kg/store/partition.py)
        private = {i.conversion.iri for i in items if not is_public_status(i.entry.status)}
        # the private fields of public assets (kg/model/private.py) stay out of the public
        # partition: kept in the private one under the same graph IRI
        graphs, hidden = {}, {}
        for i in items:
            graphs[i.conversion.iri] = i.conversion.triples
            if i.quads is not None:
                continue
            if i.conversion.iri not in private and has_private(i.entry.type):
                graphs[i.conversion.iri], hidden[i.conversion.iri] = split_triples(
                    i.entry.type, i.conversion.triples
                )
        new = {i.conversion.iri: graphs[i.conversion.iri] for i in items if i.created}
        changed = {i.conversion.iri: graphs[i.conversion.iri] for i in items if not i.created}
        serialised = [i for i in items if i.quads is not None]  # new, by a bulk import
        for i in serialised:
            new.pop(i.conversion.iri)
        try:
            if serialised:
                self._insert_serialised(serialised, private)
            if len(new) >= BULK_WRITE_MIN:
                self.store.insert_new_graphs(new, private)
            else:
                changed.update(new)
            self.store.replace_graphs(changed, private)
            if any(hidden.values()):
                self.store.private.replace_graphs({k: v for k, v in hidden.items() if v})
        except BaseException:
            # nothing half-written: roll the journalled rows back (new graphs dropped, replaced
            # ones re-read from the store, which kept the old or the new graph as a whole)
            self.recover()
            raise
        self.index.commit_entries([i.entry for i in items])

    def _insert_serialised(self, items: Sequence[_Prepared], private: set[str]) -> None:
        """Bulk-load new assets serialised by a bulk import's workers, with their restamped
        dates (``_Prepared.quads``; kg/bulk.py only serialises for a store that
        ``takes_nquads``)."""
        public_part: list[bytes] = []
        private_part: list[bytes] = []
        for i in items:
            assert i.quads is not None
            main, hidden = i.quads
            dates = nquads(i.conversion.iri, i.conversion.triples)
            (private_part if i.conversion.iri in private else public_part).extend((main, dates))
            private_part.append(hidden)
        self.store.insert_new_nquads(b"".join(public_part), b"".join(private_part))

    def create(self, asset: AssetType, data: Any) -> str:
        """Create one asset; returns its identifier. Raises Invalid or Conflict.

        Converted and validated in the caller's thread; written together with the creates and
        replaces of other threads arriving meanwhile (group commit, ``_commit_writes``)."""
        results, prepared, _ = self._convert_and_validate(asset, [data], "create")
        if results:
            return self._raise_or_identifier(asset, results[0])
        item = self._submit(_Write(asset, prepared[0]))
        if self._listeners:
            self._emit([ChangeEvent("upsert", asset, item.identifier, item.data)])
        return item.identifier

    def check(self, asset: AssetType, data: Any) -> SaveResult:
        """What ``create`` would say about ``data`` -- problems, or the asset with the same
        platform id -- without writing anything (a dry run; ``identifier`` stays None)."""
        item = self._prepare(asset, 0, data, None, None, now())
        if isinstance(item, SaveResult):
            return item
        problems = validate_conversions([item.conversion], engine=self.settings.validator)
        found = problems.get(item.conversion.iri) or _unstorable(item.conversion)
        if found:
            return SaveResult(0, problems=found)
        platform, resource_id = item.entry.platform, item.entry.platform_resource_identifier
        existing = (
            self.index.find_platform(asset.collection, platform, resource_id)
            if platform is not None and resource_id is not None
            else None
        )
        return SaveResult(0, conflict=existing.identifier if existing else None)

    def _raise_or_identifier(self, asset: AssetType, result: SaveResult) -> str:
        if result.problems:
            raise Invalid(result.problems)
        if result.conflict is not None:
            raise Conflict(
                f"There already exists a {asset.singular} with the same platform and "
                f"platform_resource_identifier, with identifier={result.conflict}.",
                existing=result.conflict,
            )
        assert result.identifier is not None
        return result.identifier

    def replace(
        self,
        asset: AssetType,
        identifier: str,
        data: Any,
        precondition: Callable[[Entry], None] | None = None,
    ) -> None:
        """Replace an asset's content (PUT). Raises NotFound, Invalid or Conflict.

        ``precondition`` (e.g. If-Match) sees the current entry under the write lock and
        raises to refuse the write (before Invalid). Like ``create``, converted and validated
        in the caller's thread and written with the writes arriving meanwhile."""
        write = self._prepare_replace(
            asset, identifier, data, self._existing(asset, identifier), precondition
        )
        item = self._submit(write)
        if self._listeners:
            self._emit([ChangeEvent("upsert", asset, identifier, item.data)])

    def check_replace(self, asset: AssetType, identifier: str, data: Any) -> None:
        """What ``replace`` would refuse (NotFound, Invalid, Conflict), without writing."""
        with self._write_lock:
            previous = self._existing(asset, identifier)
            self._admit_write(self._prepare_replace(asset, identifier, data, previous), now(), {})

    def delete(self, asset: AssetType, identifier: str) -> None:
        with self._write_lock:
            self._existing(asset, identifier)
            self.delete_many(asset, [identifier])

    def delete_many(self, asset: AssetType, identifiers: Sequence[str]) -> None:
        """Delete assets (missing ones are ignored). Their index rows become tombstones."""
        with self._write_lock:
            pairs = [(i, asset.collection) for i in identifiers]
            self.index.mark_pending(pairs)
            self.store.delete_graphs(self.iri(asset, i) for i in identifiers)
            self.index.commit_entries([], pairs, deleted_at=now())
        self._emit(ChangeEvent("delete", asset, i) for i in identifiers)

    # ------------------------------------------------------------------ reads

    def not_found(self, asset: AssetType, identifier: str) -> NotFound:
        return NotFound(f"{asset.label} '{identifier}' not found in the database.")

    def _existing(self, asset: AssetType, identifier: str) -> Entry:
        entry = self.index.get(identifier)
        if entry is None or entry.type != asset.collection:
            raise self.not_found(asset, identifier)
        return entry

    def from_triples(self, asset: AssetType, identifier: str, triples: list[Triple]) -> JSON:
        """The AIoD JSON of an asset's graph, without private fields."""
        iri = self.iri(asset, identifier)
        return public_view(asset, triples_to_asset(asset, iri, triples, self.base_url))

    def triples(self, asset: AssetType, identifier: str) -> list[Triple]:
        """The asset's graph without private fields. Raises NotFound."""
        return split_triples(asset, self.full_triples(asset, identifier))[0]

    def full_triples(self, asset: AssetType, identifier: str) -> list[Triple]:
        """The asset's whole graph, private fields included. Raises NotFound."""
        self._existing(asset, identifier)
        iri = self.iri(asset, identifier)
        public = self.store.public.graph(iri)
        triples = public + self.store.private.graph(iri) if public else self.store.graph(iri)
        if not triples:
            raise self.not_found(asset, identifier)
        return triples

    def full(self, asset: AssetType, identifier: str) -> JSON:
        """The asset's AIoD JSON with its private fields: for writes that keep them and for
        callers kg/access allows to see them. Everything else reads ``get``."""
        if not has_private(asset):
            return self.get(asset, identifier)
        iri = self.iri(asset, identifier)
        return triples_to_asset(asset, iri, self.full_triples(asset, identifier), self.base_url)

    def get(self, asset: AssetType, identifier: str) -> JSON:
        return dict(orjson.loads(self.document(asset, identifier)))

    def cached_document(self, asset: AssetType, identifier: str) -> bytes | None:
        """The asset's AIoD JSON from the index's document cache: one SQLite point lookup
        (tens of microseconds), or None when not cached (then use ``document``)."""
        return self.index.document(identifier, asset.collection)

    def document(self, asset: AssetType, identifier: str) -> bytes:
        """The asset's AIoD JSON as bytes (from the index's document cache when present)."""
        cached = self.index.document(identifier, asset.collection)
        if cached is not None:
            return cached
        self._existing(asset, identifier)
        return orjson.dumps(self.from_triples(asset, identifier, self.triples(asset, identifier)))

    def entry(self, asset: AssetType, identifier: str) -> Entry:
        return self._existing(asset, identifier)

    def list(
        self,
        asset: AssetType,
        offset: int = 0,
        limit: int = 10,
        modified_after: str | None = None,
        modified_before: str | None = None,
        platform: str | None = None,
    ) -> list[JSON]:
        return [
            dict(orjson.loads(doc))
            for doc in self.list_documents(
                asset, offset, limit, modified_after, modified_before, platform
            )
        ]

    def list_documents(
        self,
        asset: AssetType,
        offset: int = 0,
        limit: int = 10,
        modified_after: str | None = None,
        modified_before: str | None = None,
        platform: str | None = None,
    ) -> builtins.list[bytes]:
        """A page of assets as AIoD JSON bytes, in insertion order."""
        entries = self.index.page(
            asset.collection, offset, limit, modified_after, modified_before, platform
        )
        out = []
        for entry in entries:
            if entry.document is not None:
                out.append(entry.document)
                continue
            triples = self.store.graph(self.iri(asset, entry.identifier))
            if triples:
                out.append(orjson.dumps(self.from_triples(asset, entry.identifier, triples)))
        return out

    def by_platform(self, asset: AssetType, platform: str, resource_id: str) -> JSON:
        entry = self.index.find_platform(asset.collection, platform, resource_id)
        if entry is None:
            raise NotFound(
                f"{asset.label} '{resource_id}' of platform '{platform}' not found in the database."
            )
        return self.get(asset, entry.identifier)

    def count(self, asset: AssetType, detailed: bool = False) -> int | dict[str, int]:
        if detailed:
            return self.index.count_by_platform(asset.collection).get(asset.collection, {})
        return self.index.count(asset.collection)

    def counts(self) -> dict[str, dict[str, int]]:
        found = self.index.count_by_platform()
        return {name: found.get(name, {}) for name in ASSET_TYPES if found.get(name)}

    def type_of_identifier(self, identifier: str) -> AssetType | None:
        match = IDENTIFIER_RE.match(identifier)
        return PREFIX_TO_TYPE.get(match.group(1)) if match else None
