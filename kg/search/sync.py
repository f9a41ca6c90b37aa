"""Keeping the search index in step with the catalog: reconcile on open (index what was
added or changed since the last save, drop what is gone), then follow the catalog's change
events in a background thread (``flush()`` waits for it); in fast mode the same thread gives
documents their MiniLM vectors when idle. Writes made by other processes on the same catalog
(``aiod-kg serve --workers N``) arrive through the catalogue index's change feed
(``kg.store.feed``), polled every 0.1 s and queued like the catalog's own events. The store is
the source of truth: ``rebuild()`` drops everything and indexes the catalog again.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from kg.search.dense import DenseIndex
from kg.search.store import FAST, IndexStore
from kg.search.text import SearchDocument, document_of
from kg.store.feed import FeedFollower
from kg.store.partition import is_public_status

if TYPE_CHECKING:
    from kg.catalog import Catalog, ChangeEvent

log = logging.getLogger("kg.search.index")

UPGRADE_BATCH = 32
BATCH = 256
# a reconcile beside a serving process indexes 64 assets per lock hold (searches wait less);
# a rebuild (``aiod-kg reindex``) 1,024: faiss inserts a batch into HNSW on every core
RECONCILE_BATCH = 64
REBUILD_BATCH = 1024
SAVE_EVERY_SECONDS = 30.0


class CatalogSync(IndexStore):
    """Reconcile with the catalog and follow its change events."""

    # Progress of the reconcile that follows ``attach`` (read without the lock: /health and
    # search never wait for the indexer). Until it is done, answers would be incomplete.
    _reconciled = True
    _reconcile_done = 0
    _reconcile_total: int | None = 0
    _follower: FeedFollower | None = None

    @property
    def ready(self) -> bool:
        """True once the index holds everything the catalog held when it was attached."""
        return self._reconciled

    def progress(self) -> dict[str, Any]:
        """``ready``, ``indexed`` / ``total`` of the catch-up (``total`` is None while the
        catalogue is still being compared), ``documents`` searchable, ``queued`` changes."""
        return {
            "ready": self._reconciled,
            "indexed": self._reconcile_done,
            "total": self._reconcile_total,
            "documents": len(self.by_identifier),
            "queued": max(0, self._pending - (0 if self._reconciled else 1)),
        }

    def bind(self, catalog: Catalog) -> None:
        """Use ``catalog`` as the source of truth for ``reconcile``/``rebuild`` (no events)."""
        self._catalog = catalog

    def attach(self, catalog: Catalog) -> None:
        """Follow the catalog: reconcile with it, then index its change events (background)."""
        self._catalog = catalog
        catalog.subscribe(self._on_change)
        database = getattr(catalog.index, "database", None)  # kg.db: SQLite file or PostgreSQL
        if database is not None and getattr(database, "path", "shared") is not None:
            # other processes (workers, replicas) may write it too; None: private, in memory
            # started before the reconcile reads the catalogue: no change falls in between
            self._follower = FeedFollower(
                catalog.index, self._on_feed, self._on_feed_restart, name="search-feed"
            )
        self._worker = threading.Thread(target=self._run, name="search-indexer", daemon=True)
        self._reconciled, self._reconcile_done, self._reconcile_total = False, 0, None
        with self._idle:
            self._pending += 1  # the reconcile
        self._worker.start()
        if self._follower is not None:
            self._follower.start()

    def _on_feed(self, changes: Sequence[tuple[str, str]]) -> None:
        """Other processes' writes (from the change feed) as change events."""
        from kg.catalog import ChangeEvent
        from kg.errors import NotFound
        from kg.model.fields import ASSET_TYPES

        catalog = self._catalog
        if catalog is None:
            return
        for identifier, type_ in dict.fromkeys(changes):
            asset = ASSET_TYPES.get(type_)
            if asset is None:
                continue
            data = None
            entry = catalog.index.get(identifier)
            if entry is not None and entry.type == type_ and is_public_status(entry.status):
                try:
                    data = catalog.get(asset, identifier)
                except NotFound:
                    data = None
            kind: Any = "upsert" if data is not None else "delete"
            self._on_change(ChangeEvent(kind, asset, identifier, data))

    def _on_feed_restart(self) -> None:
        """The feed cannot say what changed (index cleared, or too far behind): compare."""
        if not self._closed:
            self.reconcile()

    def _on_change(self, event: ChangeEvent) -> None:
        if self._closed:
            return
        if event.kind == "delete" or event.asset is None or not _public(event.asset):
            # an asset that stops being public is hidden at once (no window in which search
            # still finds a new draft or a restricted asset); the indexes drop it in the
            # background with the queued event
            with self._lock:
                docno = self.by_identifier.get(event.identifier)
                if docno is not None:
                    self.cols.alive[docno] = False
        with self._idle:
            self._pending += 1
        self._queue.put(event)

    def flush(self, timeout: float | None = 60.0) -> bool:
        """Wait until every queued change is indexed. True if it was, False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while self._pending > 0:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(remaining)
        if self.error is not None:
            raise RuntimeError(f"search indexing failed: {self.error}") from self.error
        return True

    def _done(self, n: int) -> None:
        with self._idle:
            self._pending -= n
            if self._pending <= 0:
                self._pending = 0
                self._idle.notify_all()

    def _run(self) -> None:
        try:
            self.reconcile()
        except Exception as exc:
            log.exception("search reconcile failed")
            self.error = exc
        finally:
            self._reconciled = True
            self._done(1)
        while True:
            upgrading = (
                self.model == FAST
                and self.background_upgrades
                and not self._closed
                and self.pending_upgrades() > 0
            )
            try:
                first = self._queue.get(timeout=0.01 if upgrading else SAVE_EVERY_SECONDS)
            except queue.Empty:
                if upgrading:
                    try:
                        self.upgrade_some()
                        self._maybe_save()
                    except Exception as exc:
                        log.exception("search vector upgrade failed")
                        self.error = exc
                        time.sleep(1.0)
                else:
                    self._maybe_save(force=True)
                continue
            if first is None:
                self._done(0)
                return
            events = [first]
            while len(events) < BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                events.append(item)
            try:
                self._apply(events)
                self._maybe_save()
            except Exception as exc:
                log.exception("search indexing failed")
                self.error = exc
            finally:
                self._done(len(events))

    # ------------------------------------------------------------------ fast mode upgrades

    def pending_upgrades(self) -> int:
        """Live documents still searched by their static vector only (fast mode)."""
        if self.model != FAST:
            return 0
        with self._lock:
            n = self.cols.n
            return int((self.cols.alive[:n] & (self.cols.full[:n] < 0)).sum())

    def upgrade_some(self, batch: int = UPGRADE_BATCH) -> int:
        """Give up to ``batch`` documents their MiniLM vector; returns how many were done."""
        with self._lock:
            n = self.cols.n
            todo = np.flatnonzero(self.cols.alive[:n] & (self.cols.full[:n] < 0))[:batch]
            items = [
                (
                    int(d),
                    self.cols.identifiers[d],
                    self.types.values[self.cols.type[d]],
                    self._texts.get(int(d)),
                )
                for d in todo
            ]
        if not items:
            return 0
        missing = [(i, t, "") for _, i, t, text in items if text is None]  # texts only
        fetched = (
            {d.identifier: d.dense_text for d in self._documents_from_store(missing)}
            if missing
            else {}
        )
        texts = [
            text if text is not None else fetched.get(identifier, "")
            for _, identifier, _, text in items
        ]
        # one thread: the background pass leaves the other core to queries and writes
        vectors = self.label_embedder.encode(texts, threads=1)
        with self._lock:
            if self.full is None:
                self.full = DenseIndex(vectors.shape[1], self.hnsw_threshold)
            keep = [
                i
                for i, (docno, identifier, _, _) in enumerate(items)
                if self.by_identifier.get(identifier) == docno and self.cols.full[docno] < 0
            ]
            if keep:
                start = self.full.size
                self.full.add(vectors[keep])
                for offset, i in enumerate(keep):
                    docno = items[i][0]
                    self.cols.full[docno] = start + offset
                    self.full_docnos.append(docno)
                    self._texts.pop(docno, None)
                self._full_rows_cache = None
                self._dirty = True
            return len(keep)

    def wait_upgraded(self, timeout: float | None = None) -> bool:
        """Wait until every document has its MiniLM vector (fast mode)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.pending_upgrades() > 0:
            if self._worker is None or not self.background_upgrades:
                self.upgrade_some(256)
                continue
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _maybe_save(self, force: bool = False) -> None:
        due = time.monotonic() - self._last_save >= SAVE_EVERY_SECONDS
        if self._dirty and (force or due):
            self.save()

    def _apply(self, events: Sequence[ChangeEvent]) -> None:
        latest: dict[str, ChangeEvent] = {}
        for event in events:
            latest[event.identifier] = event
        upserts = [
            document_of(e.asset_type.collection, e.identifier, e.asset)
            for e in latest.values()
            if e.kind == "upsert" and e.asset is not None and _public(e.asset)
        ]
        deletes = [
            e.identifier
            for e in latest.values()
            if e.kind == "delete" or e.asset is None or not _public(e.asset)
        ]
        if deletes:
            self.delete(deletes)
        self.index_documents(upserts)

    def reconcile(
        self, progress: Callable[[int], None] | None = None, batch: int = RECONCILE_BATCH
    ) -> tuple[int, int]:
        """Bring the index in line with the catalog: index new or changed assets, drop deleted
        ones, ``batch`` at a time. Returns ``(indexed, deleted)``."""
        catalog = self._catalog
        if catalog is None:
            return 0, 0
        with self._lock:
            known = {i: self.cols.modified[d] for i, d in self.by_identifier.items()}
        live: dict[str, str] = {}
        changed: list[tuple[str, str, str]] = []
        for identifier, type_, modified, status in catalog.index.modified():
            if not is_public_status(status):  # drafts and restricted assets are never found
                continue
            live[identifier] = type_
            if known.get(identifier) != modified:
                changed.append((identifier, type_, modified))
        gone = [i for i in known if i not in live]
        self.delete(gone)
        indexed = 0
        self._reconcile_done, self._reconcile_total = 0, len(changed)
        for part in _chunks(changed, batch):
            if self._closed:  # closing: the next open reconciles the rest
                break
            docs = list(self._documents_from_store(part))
            self.index_documents(docs)
            indexed += len(docs)
            self._reconcile_done += len(part)
            if progress:
                progress(indexed)
        if indexed or gone:
            self.save()
        return indexed, len(gone)

    def rebuild(self, progress: Callable[[int], None] | None = None) -> int:
        """Drop everything and index every asset of the catalog again."""
        with self._lock:
            self.clear()
        indexed, _ = self.reconcile(progress, REBUILD_BATCH)
        self.save()
        return indexed

    def _documents_from_store(
        self, batch: Sequence[tuple[str, str, str]]
    ) -> Iterator[SearchDocument]:
        """The documents of ``(identifier, type, date_modified)``: the catalogue index's
        modification time is the one kept (an asset without ``aiod_entry``, a platform, has
        none in its JSON, and would otherwise be indexed again by every reconcile)."""
        from kg.errors import NotFound
        from kg.model.fields import ASSET_TYPES

        catalog = self._catalog
        assert catalog is not None
        for identifier, type_, modified in batch:
            asset = ASSET_TYPES.get(type_)
            if asset is None:
                continue
            try:
                data = catalog.get(asset, identifier)
            except NotFound:
                continue
            yield dataclasses.replace(document_of(type_, identifier, data), date_modified=modified)

    def close(self) -> None:
        """Stop the background work (what is not indexed yet is caught up by the next open's
        reconcile) and save."""
        if self._closed:
            return
        self._closed = True
        if self._follower is not None:
            self._follower.close()
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=10)
        with self._lock:
            if self._dirty:
                self.save()
            self.lexical.close()


def _public(asset: dict[str, Any]) -> bool:
    entry = asset.get("aiod_entry")
    status = entry.get("status") if isinstance(entry, dict) else None
    return is_public_status(status) if status is not None else True


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
