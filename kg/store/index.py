"""The catalogue index: a small table of every asset, for listing, counts and lookups.

It lives in the ``catalog`` database (``kg.db``): the SQLite file ``catalog.sqlite`` beside the
store, or the schema ``catalog`` of the PostgreSQL database ``AIOD_KG_DATABASE`` names, shared
by replicas on several machines. The SQL is the subset both engines share; the few places that
must differ (the ``name`` sort key, a read snapshot) branch on ``database.dialect``.

SPARQL sorting and counting grow with the catalog (~500 ms for a page of 100 by date at 50k
datasets, docs/measurements.md); this index answers those in well under a millisecond.
The store stays the source of truth: the index is rebuilt from it by ``rebuild`` and every
write goes through a *pending* journal so that a crash between the store write and the index
write is repaired on the next start (``recover``).

Deleted assets keep a row (``deleted = 1``) so that harvesters and OAI-PMH can see deletions.

Counts are not counted: ``kg.store.counts`` keeps them per (type, platform, status, ...) in
the same write transaction as the rows (``GET /counts`` at 1M assets: a few dozen rows read
instead of 3.9 s of grouping). The orders of ``page`` are in ``kg.store.ordering``.

Deep pages (offset >= ``DEEP_OFFSET``) do not walk the offset: ``page`` keeps, per type, order
and filter, the array of row keys (``seq``) in that order, and answers a page by slicing it.
The array is valid while the type's change counters (table ``changes``, bumped in the same
transaction as every write, so writers in other processes are seen too) are unchanged; pure
appends extend the insertion-order array, any other change rebuilds it on the next deep page.

The change feed (table ``feed``): every committed row change appends ``(identifier, type,
origin)`` in the writer's transaction, numbered in commit order; ``origin`` names the
``CatalogIndex`` that wrote it. Other processes sharing the file (``aiod-kg serve --workers``)
follow it (``kg.store.feed``) to keep their own caches, such as the search index, in step.
The feed keeps the last ``FEED_KEEP`` changes; a follower further behind starts over. Feed
numbers are ``MAX(n) + 1`` taken inside the serialised write transaction, never a sequence
(PostgreSQL's sequences leave gaps on rollback, and a follower reads a gap as "pruned").

On PostgreSQL the rows GET by id reads are kept in a per-process cache
(``kg.store.document_cache``, ``AIOD_KG_DOCUMENT_CACHE_MB``): writes through this object evict
them when their transaction ends, the feed carries the others' writes to it.
"""

from __future__ import annotations

import secrets
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kg.db.database import Connection, Database, SqliteDatabase, open_database
from kg.db.locks import WriteLock
from kg.store import counts
from kg.store.document_cache import DocumentCache
from kg.store.entry import COLUMNS as _COLUMNS
from kg.store.entry import Entry
from kg.store.entry import entry_of as _entry
from kg.store.ordering import NAME_COLUMN, NAME_INDEX, ORDER_INDEXES, SORT_COLUMNS, order_by

__all__ = ["SORT_COLUMNS", "CatalogIndex", "Entry", "order_by"]

if TYPE_CHECKING:
    from kg.settings import Settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS assets (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    identifier TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    platform TEXT,
    platform_resource_identifier TEXT,
    status TEXT,
    date_created TEXT NOT NULL,
    date_modified TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    document BLOB
);
CREATE INDEX IF NOT EXISTS assets_type_seq ON assets (type, deleted, seq);
CREATE INDEX IF NOT EXISTS assets_type_modified ON assets (type, deleted, date_modified);
CREATE INDEX IF NOT EXISTS assets_type_platform ON assets (type, deleted, platform);
CREATE INDEX IF NOT EXISTS assets_type_status_seq ON assets (type, deleted, status, seq);
CREATE UNIQUE INDEX IF NOT EXISTS assets_platform_id
    ON assets (type, platform, platform_resource_identifier) WHERE deleted = 0;
CREATE TABLE IF NOT EXISTS changes (
    type TEXT PRIMARY KEY,
    n INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pending (
    identifier TEXT PRIMARY KEY,
    type TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feed (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    identifier TEXT NOT NULL,
    type TEXT NOT NULL,
    origin TEXT NOT NULL
);
"""


# Offsets from which a page is answered from the kept positions (below: LIMIT/OFFSET, cheap).
DEEP_OFFSET = 2000
POSITION_CACHE = 8  # (type, order, filter) position arrays kept per index
# deep pages read at once by an index, and list pages served at once by the API in front of
# it (``api.deps.page_slots``, first come first served) -- SQLite: one, PostgreSQL: more, its
# reads wait on the network. sqlite3 gives the GIL up at every row, and 16 threads reading 100
# documents each took turns of it (a list of 100 at 1M: 2 ms alone; among 16 connections 209/s,
# p50 78 ms, p99 171; two at a time: 584/s, p50 27, p99 70; two at a time queued fairly on the
# event loop: 688-762/s, p99 35-43; one: 802-877/s, p50 17-19, p99 27-31; three: 491-608/s)
PAGE_READERS = {"sqlite": 1, "postgresql": 8}
# The ``changes`` row of rewrites (updates of existing rows, deletions, clearing: anything but
# appending a new row), for every type at once; each type's own row counts its appends.
REWRITES = ""
FEED_KEEP = 100_000  # changes the feed keeps for followers
FEED_ALL = ""  # a feed row with this identifier: everything may have changed (index cleared)


@dataclass
class _Positions:
    """The ``seq`` of every row of one (type, order, filter), ascending in that order."""

    appends: int
    rewrites: int
    seqs: array[int]


def _bump(db: Connection, rows: Sequence[str]) -> None:
    """Count one more change in each ``changes`` row (inside the writer's transaction)."""
    db.executemany(
        "INSERT INTO changes (type, n) VALUES (?, 1)"
        " ON CONFLICT(type) DO UPDATE SET n = changes.n + 1",
        [(r,) for r in rows],
    )


class CatalogIndex:
    """Thread-safe access to the index (one connection per thread) in a ``Database``; a path
    (or None: private, in memory) is a SQLite file of its own."""

    def __init__(self, database: Database | Path | None) -> None:
        if not isinstance(database, Database):
            database = SqliteDatabase(database, "catalog")
        self.database = database
        self.dialect = database.dialect
        database.create(SCHEMA)
        columns = database.columns("assets")
        if "document" not in columns:  # an index written before the document cache existed
            database.create("ALTER TABLE assets ADD COLUMN document BLOB")
        if "name" not in columns:
            database.create(NAME_COLUMN[self.dialect])
        database.create(ORDER_INDEXES + NAME_INDEX[self.dialect] + ";")
        counts.ensure(database)  # the maintained counts (kg.store.counts), built once
        self._positions: OrderedDict[tuple[str, str | None, str, str], _Positions] = OrderedDict()
        self._positions_lock = threading.Lock()
        # one position build at a time: a request that finds the positions stale while
        # another builds them waits and takes the fresh ones (the first pages after a start or
        # a write under 16 connections built the same array twice per process, GIL-bound)
        self._positions_build = threading.Lock()
        #: deep pages read at once (PAGE_READERS); callers may queue fairly in front of it
        self.page_readers = PAGE_READERS.get(self.dialect, 2)
        self._page_readers = threading.BoundedSemaphore(self.page_readers)
        self._written = 0  # rows written since the last ANALYZE (PostgreSQL)
        self._analyze_at = 1000
        #: names this index's rows in the change feed (followers skip their own writes)
        self.origin = secrets.token_hex(8)
        self._made: set[str] = set()
        self._made_lock = threading.Lock()
        #: the hot-document cache of GET by id (None: every GET reads the database)
        self.cache: DocumentCache | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> CatalogIndex:
        """The catalog's index where the settings put it: the ``catalog`` database
        (``kg.db.open_database``: SQLite beside the store, or PostgreSQL), with the
        hot-document cache on PostgreSQL (``AIOD_KG_DOCUMENT_CACHE_MB``; SQLite answers a
        lookup in microseconds without it, docs/deploy.md)."""
        index = cls(open_database(settings, "catalog"))
        if index.dialect == "postgresql" and settings.document_cache_mb > 0:
            index.cache = DocumentCache(index, settings.document_cache_mb * 1024 * 1024).start()
        return index

    def connection(self) -> Connection:
        """This thread's connection (autocommit: each statement on its own)."""
        return self.database.connection()

    _conn = connection  # the name the access tables used

    def ensure(self, name: str, make: Callable[[], None]) -> None:
        """Run ``make`` (creating the tables of ``name``, idempotent) once per index object:
        helpers built per request (the workflow's tables) run no DDL after the first."""
        with self._made_lock:
            if name not in self._made:
                make()
                self._made.add(name)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction, serialised with every writer of the database."""
        with self.database.transaction() as conn:
            yield conn

    # ------------------------------------------------------------------ journal

    def mark_pending(self, items: Iterable[tuple[str, str]]) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO pending (identifier, type) VALUES (?, ?)"
                " ON CONFLICT (identifier) DO UPDATE SET type = excluded.type",
                list(items),
            )

    def clear_pending(self, identifiers: Iterable[str]) -> None:
        with self.transaction() as db:
            db.executemany("DELETE FROM pending WHERE identifier = ?", [(i,) for i in identifiers])

    def pending(self) -> list[tuple[str, str]]:
        return [
            (str(a), str(b))
            for a, b in self._conn().execute("SELECT identifier, type FROM pending")
        ]

    def commit_entries(
        self,
        upserts: Sequence[Entry],
        deletes: Sequence[tuple[str, str]] = (),
        deleted_at: str = "",
    ) -> None:
        """Write rows and clear their pending marks in one transaction."""
        try:
            self._commit_entries(upserts, deletes, deleted_at)
        finally:  # even when the commit's outcome is unknown: the next GET reads the database
            if (cache := self.cache) is not None:
                cache.evict([e.identifier for e in upserts] + [i for i, _ in deletes])
        self._maybe_analyze(len(upserts) + len(deletes))

    def _commit_entries(
        self, upserts: Sequence[Entry], deletes: Sequence[tuple[str, str]], deleted_at: str
    ) -> None:
        with self.transaction() as db:
            written = [e.identifier for e in upserts] + [i for i, _ in deletes]
            with counts.counting(db, written):  # the maintained counts (kg.store.counts)
                appended, rewrites = self._write_rows(db, upserts, deletes, deleted_at)
            db.executemany("DELETE FROM pending WHERE identifier = ?", [(i,) for i in written])
            _bump(db, sorted(appended) + ([REWRITES] if rewrites else []))
            changed = [(e.identifier, e.type) for e in upserts] + list(deletes)
            self._feed(db, changed)

    @staticmethod
    def _write_rows(
        db: Connection, upserts: Sequence[Entry], deletes: Sequence[tuple[str, str]], at: str
    ) -> tuple[set[str], bool]:
        """Upsert and mark deleted; returns the types appended to and whether any existing
        row was rewritten."""
        (last,) = db.execute("SELECT COALESCE(MAX(seq), 0) FROM assets").fetchone()
        rewrites = bool(deletes)
        appended: set[str] = set()
        for e in upserts:
            (seq,) = db.execute(
                "INSERT INTO assets (identifier, type, platform, platform_resource_identifier,"
                " status, date_created, date_modified, deleted, document)"
                " VALUES (?,?,?,?,?,?,?,0,?)"
                " ON CONFLICT(identifier) DO UPDATE SET type=excluded.type,"
                " platform=excluded.platform,"
                " platform_resource_identifier=excluded.platform_resource_identifier,"
                " status=excluded.status, date_created=excluded.date_created,"
                " date_modified=excluded.date_modified, deleted=0,"
                " document=excluded.document RETURNING seq",
                (
                    e.identifier,
                    e.type,
                    e.platform,
                    e.platform_resource_identifier,
                    e.status,
                    e.date_created,
                    e.date_modified,
                    e.document,
                ),
            ).fetchone()
            if seq > last:
                appended.add(e.type)
            else:  # an existing row changed (maybe its type, status or order keys)
                rewrites = True
        for identifier, _ in deletes:
            db.execute(
                "UPDATE assets SET deleted = 1, date_modified = ?, document = NULL"
                " WHERE identifier = ?",
                (at, identifier),
            )
        return appended, rewrites

    def _maybe_analyze(self, rows: int) -> None:
        """PostgreSQL plans from table statistics; right after a bulk import there are none
        yet (autovacuum comes later), and a GET by id walked a whole type through the wrong
        index (2.2 ms instead of 0.04). So this index refreshes them after 1,000 rows written,
        then after 2,000 more, 4,000 more, ... (a handful of ANALYZEs per process)."""
        if self.database.dialect != "postgresql":
            return
        self._written += rows
        if self._written >= self._analyze_at:
            self._written = 0
            self._analyze_at *= 2
            self._conn().execute("ANALYZE assets")

    def _feed(self, db: Connection, changed: Sequence[tuple[str, str]]) -> None:
        """Append changes to the feed (inside the writer's transaction) and drop old ones.
        Numbered ``MAX(n) + 1`` on: writers are serialised, so numbers follow commit order
        without gaps (a rolled-back write takes none)."""
        if not changed:
            return
        (before,) = db.execute("SELECT COALESCE(MAX(n), 0) FROM feed").fetchone()
        first = int(before) + 1
        db.executemany(
            "INSERT INTO feed (n, identifier, type, origin) VALUES (?, ?, ?, ?)",
            [(first + k, i, t, self.origin) for k, (i, t) in enumerate(changed)],
        )
        last = first + len(changed) - 1
        if last % 1000 < len(changed):  # now and then (key range: cheap)
            db.execute("DELETE FROM feed WHERE n <= ?", (last - FEED_KEEP,))

    # ------------------------------------------------------------------ the change feed

    def feed_last(self) -> int:
        """The number of the latest change in the feed (0: none)."""
        row = self._conn().execute("SELECT COALESCE(MAX(n), 0) FROM feed").fetchone()
        return int(row[0]) if row else 0

    def feed_since(
        self, after: int, limit: int = 1000
    ) -> tuple[list[tuple[int, str, str, str]], bool]:
        """Changes numbered above ``after``: ``([(n, identifier, type, origin)], complete)``;
        ``complete`` is False when changes right after ``after`` were dropped already (the
        follower must start over from the catalogue)."""
        db = self._conn()
        rows = db.execute(
            "SELECT n, identifier, type, origin FROM feed WHERE n > ? ORDER BY n LIMIT ?",
            (after, limit),
        ).fetchall()
        out = [(int(n), str(i), str(t), str(o)) for n, i, t, o in rows]
        # numbers follow commit order without gaps (``_feed``): a gap after ``after`` means
        # the rows were pruned
        return out, not out or out[0][0] == after + 1

    def write_lock(self) -> WriteLock:
        """The catalog's write lock, so that every process (and, on PostgreSQL, machine)
        writing this index serialises its writes (``kg.db.locks``)."""
        return self.database.write_lock()

    # ------------------------------------------------------------------ reads

    def get(
        self, identifier: str, include_deleted: bool = False, with_document: bool = False
    ) -> Entry | None:
        """The row of an asset; ``with_document``: its cached AIoD JSON too, in the same
        lookup (a GET needs both: one round trip on PostgreSQL instead of two), through the
        hot-document cache when it is on."""
        if with_document and not include_deleted and (cache := self.cache) is not None:
            return cache.load(identifier, lambda: self._get(identifier, False, True))
        return self._get(identifier, include_deleted, with_document)

    def _get(self, identifier: str, include_deleted: bool, with_document: bool) -> Entry | None:
        columns = f"{_COLUMNS}, document" if with_document else _COLUMNS
        row = (
            self._conn()
            .execute(f"SELECT {columns} FROM assets WHERE identifier = ?", (identifier,))
            .fetchone()
        )
        if row is None or (row[7] and not include_deleted):
            return None
        return _entry(row)

    def document(self, identifier: str, type_: str | None = None) -> bytes | None:
        """The cached AIoD JSON of a live asset (None if absent or not cached)."""
        sql = "SELECT document FROM assets WHERE identifier = ? AND deleted = 0"
        args: tuple[str, ...] = (identifier,)
        if type_ is not None:
            sql += " AND type = ?"
            args = (identifier, type_)
        row = self._conn().execute(sql, args).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    def documents(self, identifiers: Sequence[str]) -> dict[str, bytes]:
        """Cached AIoD JSON of several live assets."""
        out: dict[str, bytes] = {}
        for start in range(0, len(identifiers), 500):
            chunk = list(identifiers[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for identifier, document in self._conn().execute(
                f"SELECT identifier, document FROM assets WHERE deleted = 0"
                f" AND document IS NOT NULL AND identifier IN ({marks})",
                chunk,
            ):
                out[str(identifier)] = bytes(document)
        return out

    def find_platform(self, type_: str, platform: str, resource_id: str) -> Entry | None:
        row = (
            self._conn()
            .execute(
                f"SELECT {_COLUMNS} FROM assets WHERE type = ? AND platform = ?"
                " AND platform_resource_identifier = ? AND deleted = 0",
                (type_, platform, resource_id),
            )
            .fetchone()
        )
        return _entry(row) if row else None

    def page(
        self,
        type_: str,
        offset: int,
        limit: int,
        modified_after: str | None = None,
        modified_before: str | None = None,
        platform: str | None = None,
        condition: tuple[str, Sequence[object]] | None = None,
        sort: str | None = None,
        descending: bool = False,
    ) -> list[Entry]:
        """A page of live assets of one type, in insertion order or by ``sort`` (a key of
        ``SORT_COLUMNS``, walked in its index); ``condition`` is an extra SQL condition with
        its parameters (e.g. the access rules' visibility)."""
        order = order_by(sort, descending, self.dialect)
        where = ["type = ?", "deleted = 0"]
        args: list[object] = [type_]
        if condition is not None:
            where.append(condition[0])
            args.extend(condition[1])
        if modified_after is not None:
            where.append("date_modified > ?")
            args.append(modified_after)
        if modified_before is not None:
            where.append("date_modified < ?")
            args.append(modified_before)
        if platform is not None:
            where.append("platform = ?")
            args.append(platform)
        if offset >= DEEP_OFFSET:
            with self._page_readers:  # PAGE_READERS at a time
                return self._deep_page(
                    type_, " AND ".join(where), args, sort, descending, offset, limit
                )
        # Deferred join: the offset is walked in the (type, deleted, seq) index alone, and only
        # the rows of the page are read (documents included). LIMIT and OFFSET are literals
        # (integers): PostgreSQL's generic plan of a prepared statement, not knowing them,
        # would read the whole table for the outer query.
        sql = (
            f"SELECT {_COLUMNS}, document FROM assets WHERE seq IN ("
            f"SELECT seq FROM assets WHERE {' AND '.join(where)} ORDER BY {order}"
            f" LIMIT {int(limit)} OFFSET {int(offset)}) ORDER BY {order}"
        )
        rows = self._conn().execute(sql, args).fetchall()
        return [_entry(r) for r in rows]

    def _deep_page(
        self,
        type_: str,
        where: str,
        args: list[object],
        sort: str | None,
        descending: bool,
        offset: int,
        limit: int,
    ) -> list[Entry]:
        """A page sliced from the kept positions; the counters, the positions (if rebuilt) and
        the rows are read in one read transaction, so the page is of one snapshot."""
        key = (type_, sort, where, repr(args))
        db = self._conn()
        # one snapshot for every statement (SQLite's read transactions are snapshots)
        db.execute("BEGIN" if self.dialect == "sqlite" else "BEGIN ISOLATION LEVEL REPEATABLE READ")
        try:
            counts = dict(
                db.execute("SELECT type, n FROM changes WHERE type IN (?, ?)", (type_, REWRITES))
            )
            appends, rewrites = int(counts.get(type_, 0)), int(counts.get(REWRITES, 0))
            with self._positions_lock:
                kept = self._positions.get(key)
            if kept is None or kept.rewrites != rewrites or kept.appends != appends:
                with self._positions_build:
                    kept = self._build_positions(db, key, where, args, sort, appends, rewrites)
            with self._positions_lock:
                self._positions.move_to_end(key)
            n = len(kept.seqs)
            if descending:
                chosen = kept.seqs[max(0, n - offset - limit) : max(0, n - offset)][::-1]
            else:
                chosen = kept.seqs[offset : offset + limit]
            rank = {seq: i for i, seq in enumerate(chosen)}
            rows = []
            for start in range(0, len(chosen), 500):
                part = chosen[start : start + 500].tolist()
                marks = ",".join("?" * len(part))
                rows += db.execute(
                    f"SELECT {_COLUMNS}, document, seq FROM assets WHERE seq IN ({marks})", part
                ).fetchall()
        finally:
            db.execute("COMMIT")
        rows.sort(key=lambda r: rank[r[9]])
        return [_entry(r) for r in rows]

    def _build_positions(
        self,
        db: Connection,
        key: tuple[str, str | None, str, str],
        where: str,
        args: list[object],
        sort: str | None,
        appends: int,
        rewrites: int,
    ) -> _Positions:
        """The positions of ``key`` at these counters (in the caller's read transaction):
        the kept ones if another thread built them meanwhile, else built and kept."""
        with self._positions_lock:
            kept = self._positions.get(key)
        if kept is not None and kept.rewrites == rewrites and kept.appends == appends:
            return kept
        select = f"SELECT seq FROM assets WHERE {where}"
        if (
            kept is not None
            and kept.rewrites == rewrites
            and kept.appends < appends  # (kept ones of a newer snapshot: not a prefix of ours)
            and sort is None
            and kept.seqs
        ):
            # only new rows since: they follow every kept one in insertion order
            more = db.execute(f"{select} AND seq > ? ORDER BY seq", [*args, kept.seqs[-1]])
            seqs = kept.seqs + array("q", (s for (s,) in more))
        else:
            found = db.execute(f"{select} ORDER BY {order_by(sort, False, self.dialect)}", args)
            seqs = array("q", (s for (s,) in found))
        kept = _Positions(appends, rewrites, seqs)
        with self._positions_lock:
            self._positions[key] = kept
            while len(self._positions) > POSITION_CACHE:
                self._positions.popitem(last=False)
        return kept

    def count(self, type_: str, condition: tuple[str, Sequence[object]] | None = None) -> int:
        """Live assets of one type (``condition``: an extra SQL condition, as in ``page``;
        without one, from the maintained counts)."""
        return sum(self.count_by_platform(type_, condition).get(type_, {}).values())

    def count_by_platform(
        self, type_: str | None = None, condition: tuple[str, Sequence[object]] | None = None
    ) -> dict[str, dict[str, int]]:
        """Live assets per type and platform: all of them from the maintained counts, under a
        ``condition`` by one pass over the rows (``count_visible`` for a reader's view)."""
        if condition is None:
            return counts.visible(self._conn(), counts.Visibility(everything=True), type_)
        return counts.scan(self._conn(), type_, condition)

    def count_visible(
        self, visibility: counts.Visibility, type_: str | None = None
    ) -> dict[str, dict[str, int]]:
        """Live assets per type and platform that a reader sees (``kg.store.counts``)."""
        return counts.visible(self._conn(), visibility, type_)

    def recount(self) -> None:
        """Build the maintained counts again from the rows (a repair)."""
        with self.transaction() as db:
            counts.recount(db)

    def with_status(
        self,
        status: str,
        limit: int,
        offset: int,
        condition: tuple[str, Sequence[object]] | None = None,
    ) -> list[Entry]:
        """Live assets of one status (any type), oldest change first (e.g. the review queue)."""
        extra, args = condition if condition is not None else ("1 = 1", ())
        sql = (
            f"SELECT {_COLUMNS} FROM assets WHERE deleted = 0 AND status = ? AND ({extra})"
            f" ORDER BY date_modified, seq LIMIT {int(limit)} OFFSET {int(offset)}"
        )
        return [_entry(r) for r in self._conn().execute(sql, [status, *args])]

    def identifiers(self, type_: str | None = None) -> Iterator[str]:
        sql = "SELECT identifier FROM assets WHERE deleted = 0" + (" AND type = ?" if type_ else "")
        for (identifier,) in self._conn().execute(sql, (type_,) if type_ else ()):
            yield str(identifier)

    def modified(self) -> Iterator[tuple[str, str, str, str | None]]:
        """``(identifier, type, date_modified, status)`` of every live asset (search
        reconciles its index on it)."""
        sql = "SELECT identifier, type, date_modified, status FROM assets WHERE deleted = 0"
        for identifier, type_, modified, status in self._conn().execute(sql):
            yield str(identifier), str(type_), str(modified), status

    def clear(self) -> None:
        try:
            with self.transaction() as db:
                db.execute("DELETE FROM assets")
                counts.clear(db)
                db.execute("DELETE FROM pending")
                _bump(db, [REWRITES])
                self._feed(db, [(FEED_ALL, FEED_ALL)])
        finally:
            if (cache := self.cache) is not None:
                cache.clear()

    def close(self) -> None:
        """Close this thread's connection (and stop the cache's feed thread: the owner's
        close at the end)."""
        cache, self.cache = self.cache, None
        if cache is not None:
            cache.close()
        self.database.close()
