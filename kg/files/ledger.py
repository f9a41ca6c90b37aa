"""Which asset holds which stored file, who uploaded it, how large it is (the database
``files``, ``kg.db``: ``files.sqlite`` beside ``catalog.sqlite``, or the schema ``files`` of
``AIOD_KG_DATABASE``): the per-user quota and the references that decide when an object may be
deleted. The asset's ``distribution`` stays the public record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kg.db.database import Connection, Database, SqliteDatabase, open_database
from kg.settings import Settings
from kg.store.backends import index_path

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
    """The SQLite file of the ledger (when ``AIOD_KG_DATABASE`` does not hold it)."""
    return index_path(settings).parent / "files.sqlite"


class Ledger:
    def __init__(self, db: Database | Path | None) -> None:
        """``db``: the database, or a SQLite file (``None``: a private in-memory one)."""
        # the index's durability (a power cut may lose the last commits: then `aiod-kg files
        # verify` reports them); other processes (--workers, replicas) write too
        self.db = db if isinstance(db, Database) else SqliteDatabase(db, "files")
        self.db.create(SCHEMA)

    @classmethod
    def from_settings(cls, settings: Settings) -> Ledger:
        """The ledger where the settings put it (``kg.db.open_database``)."""
        return cls(open_database(settings, "files"))

    def close(self) -> None:
        self.db.close()

    def record(self, row: FileRow) -> FileRow | None:
        """Store ``row``; returns the row it replaced (same asset and name), if any. Read and
        write as one: no other writer in between."""
        with self.db.transaction() as conn:
            previous = self._get(conn, row.identifier, row.name)
            conn.execute(
                "INSERT INTO files (identifier, name, collection, sha256, size, uploader, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (identifier, name) DO UPDATE SET"
                " collection = excluded.collection, sha256 = excluded.sha256,"
                " size = excluded.size, uploader = excluded.uploader, created = excluded.created",
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
        with self.db.transaction() as conn:
            previous = self._get(conn, identifier, name)
            conn.execute("DELETE FROM files WHERE identifier = ? AND name = ?", (identifier, name))
            return previous

    @staticmethod
    def _get(conn: Connection, identifier: str, name: str) -> FileRow | None:
        row = conn.execute(
            "SELECT identifier, name, collection, sha256, size, uploader, created FROM files"
            " WHERE identifier = ? AND name = ?",
            (identifier, name),
        ).fetchone()
        return FileRow(*row) if row else None

    def get(self, identifier: str, name: str) -> FileRow | None:
        return self._get(self.db.connection(), identifier, name)

    def usage(self, uploader: str) -> int:
        """Bytes of the files ``uploader`` stores (each asset's file counted)."""
        (total,) = (
            self.db.connection()
            .execute("SELECT COALESCE(SUM(size), 0) FROM files WHERE uploader = ?", (uploader,))
            .fetchone()
        )
        return int(total)

    def references(self, sha256: str) -> int:
        (count,) = (
            self.db.connection()
            .execute("SELECT COUNT(*) FROM files WHERE sha256 = ?", (sha256,))
            .fetchone()
        )
        return int(count)

    def rows(self) -> list[FileRow]:
        rows = self.db.connection().execute(
            "SELECT identifier, name, collection, sha256, size, uploader, created FROM files"
            " ORDER BY identifier, name"
        )
        return [FileRow(*r) for r in rows]


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
