"""The hot-document cache: a per-process copy of the catalogue index rows GET by id reads.

On a shared PostgreSQL database (replicas, ``AIOD_KG_DATABASE``) every ``GET /{type}/{id}``
cost a network round trip to the database for one index row and its cached AIoD JSON
(``CatalogIndex.get(..., with_document=True)``), made from the thread pool. This cache keeps
the rows of hot assets in memory, so that the route answers them on the event loop
(``api/auth/guard.py``); it holds exactly what ``CatalogIndex.get`` returned, and the read
check still runs on it.

Coherence. Every change of a row of the ``assets`` table goes through
``CatalogIndex.commit_entries`` or ``CatalogIndex.clear``, which append to the ``feed`` table
in the same transaction (drafts, private assets, deletions, restores and rebuilds included:
the feed is the index's own change log, not the public OAI-PMH one).

- The writing process evicts the rows it wrote as soon as its transaction ends (``evict``):
  it reads its own write at once.
- A background thread looks at the feed every ``interval`` (0.1 s; one indexed
  ``MAX(n)`` when nothing changed) and evicts what other processes wrote; a feed that went
  backwards (a database restored under a running replica) or was cleared empties the cache.
- A row read from the database is kept only if no eviction happened while it was read
  (``_generation``): a read that started before a change committed can never re-insert the
  old row after the eviction of that change.

Bounded: ``max_bytes`` of documents (least recently used first out); missing and deleted
assets are not kept (their lookups go to the database as before).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kg.store.index import CatalogIndex, Entry

log = logging.getLogger("kg.store.document_cache")

POLL_INTERVAL = 0.1  # seconds between two looks at the change feed
ROW_OVERHEAD = 400  # bytes an entry costs besides its document (strings, object, dict slot)


def _size(entry: Entry) -> int:
    return ROW_OVERHEAD + (len(entry.document) if entry.document is not None else 0)


class DocumentCache:
    """Index rows with their documents, by identifier, kept coherent with the change feed."""

    def __init__(
        self, index: CatalogIndex, max_bytes: int, *, interval: float = POLL_INTERVAL
    ) -> None:
        self.index = index
        self.max_bytes = max_bytes
        self.interval = interval
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._generation = 0  # evictions so far (a read spanning one is not kept)
        self.hits = 0
        self.misses = 0
        # changes before now are in the database already: the cache starts empty
        self.position = index.feed_last()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="document-cache", daemon=True)

    def start(self) -> DocumentCache:
        self._thread.start()
        return self

    # ------------------------------------------------------------------ reads

    def lookup(self, identifier: str) -> Entry | None:
        """The kept row (memory only: never blocks on the database)."""
        with self._lock:
            entry = self._entries.get(identifier)
            if entry is not None:
                self._entries.move_to_end(identifier)
            return entry

    def load(self, identifier: str, read: Callable[[], Entry | None]) -> Entry | None:
        """The kept row, else ``read()``'s, kept if no eviction happened meanwhile."""
        entry = self.lookup(identifier)
        if entry is not None:
            self.hits += 1
            return entry
        self.misses += 1
        with self._lock:
            generation = self._generation
        entry = read()
        if entry is None or _size(entry) > self.max_bytes:
            return entry
        with self._lock:
            if generation == self._generation:
                old = self._entries.pop(identifier, None)
                if old is not None:
                    self._bytes -= _size(old)
                self._entries[identifier] = entry
                self._bytes += _size(entry)
                while self._bytes > self.max_bytes:
                    _, dropped = self._entries.popitem(last=False)
                    self._bytes -= _size(dropped)
        return entry

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        """Bytes kept (documents plus a per-row estimate)."""
        return self._bytes

    # ------------------------------------------------------------------ changes

    def evict(self, identifiers: Iterable[str]) -> None:
        """Forget these rows (a write of this process, or one the feed reported)."""
        with self._lock:
            self._generation += 1
            for identifier in identifiers:
                old = self._entries.pop(identifier, None)
                if old is not None:
                    self._bytes -= _size(old)

    def clear(self) -> None:
        """Forget every row (the index was cleared, or the feed cannot say what changed)."""
        with self._lock:
            self._generation += 1
            self._entries.clear()
            self._bytes = 0

    def poll(self) -> int:
        """Evict what the feed holds past ``position``; returns how many changes were read."""
        from kg.store.index import FEED_ALL

        last = self.index.feed_last()
        if last == self.position:
            return 0
        if last < self.position:  # the feed went backwards: another database's history
            self.clear()
            self.position = last
            return 1
        rows, complete = self.index.feed_since(self.position)
        if not rows:
            return 0
        if not complete or any(identifier == FEED_ALL for _, identifier, _, _ in rows):
            self.clear()
            self.position = max(last, rows[-1][0])
            return len(rows)
        # this process's own writes were evicted when they were made; evicting them again
        # costs a lookup and keeps this loop free of origins (several indexes per process)
        self.evict(identifier for _, identifier, _, _ in rows)
        self.position = rows[-1][0]
        return len(rows)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    while self.poll() and not self._stop.is_set():
                        pass  # a backlog: read on without waiting
                except Exception:  # an unreachable database: nothing is known to be current
                    self.clear()
                    log.exception("following the change feed failed; the cache was emptied")
        finally:
            self.index.database.close()  # this thread's connection

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.clear()
