"""The one way aiod-kg opens its SQLite files (catalogue index, harvest and sync state, link
index, files ledger): WAL, so readers never wait for the writer and several processes
(``serve --workers``) share a file; ``synchronous=NORMAL``, so a killed process loses nothing
and a commit does not wait for an fsync (a power cut may lose the last commits, as it may the
store's); a 30 s wait for another writer's lock. This is also the seam where a shared database
would replace the files (issue 13)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal

IsolationLevel = Literal["DEFERRED", "IMMEDIATE", "EXCLUSIVE"] | None
BUSY_TIMEOUT_S = 30


def connect(
    path: Path | str | None,
    *,
    uri: bool = False,
    isolation_level: IsolationLevel = None,
) -> sqlite3.Connection:
    """A connection usable from any thread (callers serialise their own use of it); ``None``:
    a private in-memory database. ``isolation_level=None`` (the default) is autocommit: the
    caller opens transactions itself."""
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        ":memory:" if path is None else str(path),
        uri=uri,
        timeout=BUSY_TIMEOUT_S,
        isolation_level=isolation_level,
        check_same_thread=False,
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn
