"""Bookmarks: the assets each signed-in user keeps a star on (AIoD's ``/bookmarks``).

One row per (user, asset) in the catalogue index's database, beside the access tables;
``user`` is the principal's stable ``subject``. Bookmarks are private to their user and never
reach the store, so neither SPARQL nor the public catalogue can see them. (``"user"`` is
quoted: a reserved word of PostgreSQL.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from kg.db.database import Connection
from kg.store.index import CatalogIndex

SCHEMA = """
CREATE TABLE IF NOT EXISTS bookmarks (
    "user" TEXT NOT NULL,
    identifier TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY ("user", identifier)
)
"""


@dataclass(frozen=True)
class Bookmark:
    identifier: str
    created_at: str  # ISO 8601, UTC, seconds

    def as_json(self) -> dict[str, str]:
        """The AIoD shape the SDK reads."""
        return {"resource_identifier": self.identifier, "created_at": self.created_at}


class Bookmarks:
    """The bookmarks table (see the module docstring)."""

    def __init__(self, index: CatalogIndex) -> None:
        self.index = index
        index.ensure("bookmarks", lambda: index.database.create(SCHEMA))

    def _db(self) -> Connection:
        return self.index.connection()

    def add(self, user: str, identifier: str) -> Bookmark:
        """Bookmark ``identifier`` for ``user``; bookmarking twice keeps the first date."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        with self.index.transaction() as db:
            db.execute(
                'INSERT INTO bookmarks ("user", identifier, created_at) VALUES (?,?,?)'
                " ON CONFLICT DO NOTHING",
                (user, identifier, now),
            )
            row = db.execute(
                'SELECT created_at FROM bookmarks WHERE "user" = ? AND identifier = ?',
                (user, identifier),
            ).fetchone()
        return Bookmark(identifier, str(row[0]))

    def remove(self, user: str, identifier: str) -> None:
        """Drop the bookmark; no error when there is none."""
        with self.index.transaction() as db:
            db.execute(
                'DELETE FROM bookmarks WHERE "user" = ? AND identifier = ?', (user, identifier)
            )

    def of(self, user: str) -> list[Bookmark]:
        """The user's bookmarks, oldest first."""
        return [
            Bookmark(str(i), str(c))
            for i, c in self._db().execute(
                'SELECT identifier, created_at FROM bookmarks WHERE "user" = ?'
                " ORDER BY created_at, identifier",
                (user,),
            )
        ]
