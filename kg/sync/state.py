"""What a node knows of its central, in SQLite (``sync.sqlite`` beside the catalogue index).

``pushed``: each asset the central holds from this node (its identifier there, the hash of
the body sent and the local ``date_modified`` it was sent at). Rows are written in batches
(``BATCH`` rows or ``FLUSH_EVERY`` seconds, whichever comes first, and on ``flush``/``close``)
in WAL mode without an fsync per commit: a run killed at any point loses at most the last
batch, and the next run finds those assets on the central (the pusher lists what the central
holds from this node before it creates anything), so it resumes by comparison and makes no
duplicate; ``local_only``: assets their owner keeps
on the node (never pushed, withdrawn from the central when marked). ``sync_lock``: one push
run at a time per node, across processes.
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

from kg.settings import Settings
from kg.store.backends import index_path
from kg.db.database import connect

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
    def __init__(self, path: Path | None) -> None:
        self.db = connect(path)  # WAL: a killed process loses nothing
        self.db.executescript(SCHEMA)
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
        self.db.execute("BEGIN")
        try:
            self.db.executemany("INSERT OR REPLACE INTO pushed VALUES (?,?,?,?,?)", rows)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def pushed(self) -> dict[str, Pushed]:
        with self.lock:
            self._flush()
            rows = self.db.execute(
                "SELECT identifier, collection, remote_id, hash, modified FROM pushed"
            ).fetchall()
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
            self.db.execute("DELETE FROM pushed WHERE identifier = ?", (identifier,))

    def local_only(self) -> set[str]:
        with self.lock:
            return {r[0] for r in self.db.execute("SELECT identifier FROM local_only")}

    def set_local_only(self, identifier: str, local: bool) -> None:
        with self.lock:
            if local:
                self.db.execute("INSERT OR IGNORE INTO local_only VALUES (?)", (identifier,))
            else:
                self.db.execute("DELETE FROM local_only WHERE identifier = ?", (identifier,))


def sync_state(settings: Settings) -> SyncState:
    """The node's sync state beside its catalogue index."""
    return SyncState(index_path(settings).parent / "sync.sqlite")


@contextmanager
def sync_lock(settings: Settings) -> Iterator[bool]:
    """Hold the node's sync lock (``sync.lock``): yields False, without waiting, when another
    run (thread or process) holds it. The kernel drops it when its holder dies."""
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
