"""Which asset holds which stored file, who uploaded it, how large it is (SQLite,
``files.sqlite`` beside ``catalog.sqlite``): the per-user quota and the references that decide
when an object may be deleted. The asset's ``distribution`` stays the public record."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kg.settings import Settings
from kg.store.backends import index_path
from kg.db.database import connect

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    identifier TEXT NOT NULL,
    name TEXT NOT NULL,
    collection TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    uploader TEXT NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (identifier, name)
);
CREATE INDEX IF NOT EXISTS files_uploader ON files (uploader);
CREATE INDEX IF NOT EXISTS files_sha256 ON files (sha256);
"""


@dataclass(frozen=True)
class FileRow:
    identifier: str
    name: str
    collection: str
    sha256: str
    size: int
    uploader: str
    created: str


def ledger_path(settings: Settings) -> Path:
    return index_path(settings).parent / "files.sqlite"


class Ledger:
    def __init__(self, path: Path) -> None:
        # the index's durability (a power cut may lose the last commits: then `aiod-kg files
        # verify` reports them); other processes (--workers) write too
        self._db = connect(path)
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def record(self, row: FileRow) -> FileRow | None:
        """Store ``row``; returns the row it replaced (same asset and name), if any."""
        with self._lock, self._transaction():
            previous = self._get(row.identifier, row.name)
            self._db.execute(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    row.identifier,
                    row.name,
                    row.collection,
                    row.sha256,
                    row.size,
                    row.uploader,
                    row.created,
                ),
            )
            return previous

    def remove(self, identifier: str, name: str) -> FileRow | None:
        with self._lock, self._transaction():
            previous = self._get(identifier, name)
            self._db.execute(
                "DELETE FROM files WHERE identifier = ? AND name = ?", (identifier, name)
            )
            return previous

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """Read and write as one: another process cannot write in between (BEGIN IMMEDIATE)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _get(self, identifier: str, name: str) -> FileRow | None:
        row = self._db.execute(
            "SELECT * FROM files WHERE identifier = ? AND name = ?", (identifier, name)
        ).fetchone()
        return FileRow(*row) if row else None

    def get(self, identifier: str, name: str) -> FileRow | None:
        with self._lock:
            return self._get(identifier, name)

    def usage(self, uploader: str) -> int:
        """Bytes of the files ``uploader`` stores (each asset's file counted)."""
        with self._lock:
            (total,) = self._db.execute(
                "SELECT COALESCE(SUM(size), 0) FROM files WHERE uploader = ?", (uploader,)
            ).fetchone()
        return int(total)

    def references(self, sha256: str) -> int:
        with self._lock:
            (count,) = self._db.execute(
                "SELECT COUNT(*) FROM files WHERE sha256 = ?", (sha256,)
            ).fetchone()
        return int(count)

    def rows(self) -> list[FileRow]:
        with self._lock:
            return [FileRow(*r) for r in self._db.execute("SELECT * FROM files ORDER BY 1, 2")]


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
