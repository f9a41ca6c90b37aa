"""What a node knows of its central, in SQLite (``sync.sqlite`` beside the catalogue index).

``pushed``: each asset the central holds from this node (its identifier there, the hash of
the body sent and the local ``date_modified`` it was sent at), one row committed per push,
so a run killed at any point resumes by comparison; ``local_only``: assets their owner keeps
on the node (never pushed, withdrawn from the central when marked). ``sync_lock``: one push
run at a time per node, across processes.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class Pushed:
    collection: str
    remote_id: str
    hash: str
    modified: str


class SyncState:
    def __init__(self, path: Path | None) -> None:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(
            str(path) if path else ":memory:",
            timeout=30,
            isolation_level=None,
            check_same_thread=False,
        )
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()

    def close(self) -> None:
        self.db.close()

    def pushed(self) -> dict[str, Pushed]:
        with self.lock:
            rows = self.db.execute(
                "SELECT identifier, collection, remote_id, hash, modified FROM pushed"
            ).fetchall()
        return {r[0]: Pushed(r[1], r[2], r[3], r[4]) for r in rows}

    def record(self, identifier: str, pushed: Pushed) -> None:
        with self.lock:
            self.db.execute(
                "INSERT OR REPLACE INTO pushed VALUES (?,?,?,?,?)",
                (identifier, pushed.collection, pushed.remote_id, pushed.hash, pushed.modified),
            )

    def drop(self, identifier: str) -> None:
        with self.lock:
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
