"""What a node knows of its central, in the database ``sync`` (``kg.db``: ``sync.sqlite`` beside
the catalogue index, or the schema ``sync`` of ``AIOD_KG_DATABASE``).

``pushed``: each asset the central holds from this node (its identifier there, the hash of
the body sent and the local ``date_modified`` it was sent at). Rows are written in batches
(``BATCH`` rows or ``FLUSH_EVERY`` seconds, whichever comes first, and on ``flush``/``close``)
in WAL mode without an fsync per commit: a run killed at any point loses at most the last
batch, and the next run finds those assets on the central (the pusher lists what the central
holds from this node before it creates anything), so it resumes by comparison and makes no
duplicate; ``local_only``: assets their owner keeps
on the node (never pushed, withdrawn from the central when marked). ``sync_lock``: one push
run at a time per node, across processes (an ``flock`` on ``sync.lock``) and, on PostgreSQL,
across the node's replicas on many machines (a session advisory lock); either is dropped when
its holder dies.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kg.db.database import Database, SqliteDatabase, advisory_key, is_postgres, open_database
from kg.settings import Settings
from kg.store.backends import index_path

SCHEMA = """
CREATE TABLE IF NOT EXISTS pushed (
    identifier TEXT PRIMARY KEY,
    collection TEXT NOT NULL,
    remote_id TEXT NOT NULL,
    hash TEXT NOT NULL,
    modified TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS local_only (identifier TEXT PRIMARY KEY);
"""
BATCH = 500  # pushed rows buffered before they are written
FLUSH_EVERY = 2.0  # seconds a buffered row may wait


@dataclass(frozen=True)
class Pushed:
    collection: str
    remote_id: str
    hash: str
    modified: str


class SyncState:
    def __init__(self, db: Database | Path | None) -> None:
        """``db``: the database, or a SQLite file (``None``: a private in-memory one)."""
        # SQLite in WAL: a killed process loses nothing
        self.db = db if isinstance(db, Database) else SqliteDatabase(db, "sync")
        self.db.create(SCHEMA)
        self.lock = threading.Lock()
        self._buffer: dict[str, Pushed] = {}
        self._since = time.monotonic()

    def close(self) -> None:
        self.flush()
        self.db.close()

    def flush(self) -> None:
        """Write the buffered rows (one transaction)."""
        with self.lock:
            self._flush()

    def _flush(self) -> None:
        self._since = time.monotonic()
        if not self._buffer:
            return
        rows = [
            (identifier, p.collection, p.remote_id, p.hash, p.modified)
            for identifier, p in self._buffer.items()
        ]
        self._buffer.clear()
        with self.db.transaction() as conn:
            conn.executemany(
                "INSERT INTO pushed (identifier, collection, remote_id, hash, modified)"
                " VALUES (?,?,?,?,?) ON CONFLICT (identifier) DO UPDATE SET"
                " collection = excluded.collection, remote_id = excluded.remote_id,"
                " hash = excluded.hash, modified = excluded.modified",
                rows,
            )

    def pushed(self) -> dict[str, Pushed]:
        with self.lock:
            self._flush()
            rows = (
                self.db.connection()
                .execute("SELECT identifier, collection, remote_id, hash, modified FROM pushed")
                .fetchall()
            )
        return {r[0]: Pushed(r[1], r[2], r[3], r[4]) for r in rows}

    def record(self, identifier: str, pushed: Pushed) -> None:
        """Buffer a pushed row (written within ``BATCH`` rows or ``FLUSH_EVERY`` seconds)."""
        with self.lock:
            self._buffer[identifier] = pushed
            if len(self._buffer) >= BATCH or time.monotonic() - self._since >= FLUSH_EVERY:
                self._flush()

    def drop(self, identifier: str) -> None:
        with self.lock:
            self._buffer.pop(identifier, None)
            self.db.connection().execute("DELETE FROM pushed WHERE identifier = ?", (identifier,))

    def local_only(self) -> set[str]:
        with self.lock:
            rows = self.db.connection().execute("SELECT identifier FROM local_only")
            return {r[0] for r in rows}

    def set_local_only(self, identifier: str, local: bool) -> None:
        with self.lock:
            conn = self.db.connection()
            if local:
                conn.execute(
                    "INSERT INTO local_only (identifier) VALUES (?) ON CONFLICT DO NOTHING",
                    (identifier,),
                )
            else:
                conn.execute("DELETE FROM local_only WHERE identifier = ?", (identifier,))


def sync_state(settings: Settings) -> SyncState:
    """The node's sync state where the settings put it (``kg.db.open_database``)."""
    return SyncState(open_database(settings, "sync"))


@contextmanager
def sync_lock(settings: Settings) -> Iterator[bool]:
    """Hold the node's sync lock (``sync.lock``; on PostgreSQL also a session advisory lock, for
    replicas on other machines): yields False, without waiting, when another run (thread,
    process or replica) holds it. The kernel (PostgreSQL) drops it when its holder dies."""
    with _file_lock(settings) as mine:
        if not mine:
            yield False
            return
        url = settings.database.get_secret_value() if settings.database is not None else None
        if not url or not is_postgres(url):
            yield True
            return
        with _advisory_lock(url) as ours:
            yield ours


@contextmanager
def _advisory_lock(url: str) -> Iterator[bool]:
    import psycopg  # only a deployment on PostgreSQL needs it

    key = advisory_key("aiod-kg", "sync", "run")
    with psycopg.connect(url, autocommit=True) as conn:  # the lock's own session
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        taken = bool(row and row[0])
        try:
            yield taken
        finally:
            if taken:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


@contextmanager
def _file_lock(settings: Settings) -> Iterator[bool]:
    path = index_path(settings).parent / "sync.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
