"""Pending revisions: an edit of a published asset that waits for review.

When somebody who does not publish directly (the owner, a grantee: not an admin, a moderator
of the type or the asset's connector) changes a *published* asset, the change must not reach
the public before a reviewer accepts it, and the published version must stay visible
meanwhile. The edit is kept here, as the AIoD JSON the catalog will write on acceptance,
beside the access tables in the catalogue index's database: never in the store, so neither
the public partition, nor SPARQL, nor OAI-PMH / DCAT can see it. One pending revision per asset
(a newer edit replaces it); ``etag`` is the content hash a reviewer must send back to accept
exactly this version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from kg.db.database import Connection
from kg.store.index import CatalogIndex

SCHEMA = """
CREATE TABLE IF NOT EXISTS asset_revisions (
    identifier TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    document BLOB NOT NULL,
    etag TEXT NOT NULL,
    author TEXT NOT NULL,
    at TEXT NOT NULL
)
"""


def revision_etag(document: bytes) -> str:
    """The strong ETag of a pending revision's document (its content hash)."""
    return '"rev-' + hashlib.blake2b(document, digest_size=12).hexdigest() + '"'


@dataclass(frozen=True)
class Revision:
    identifier: str
    type: str
    document: bytes
    etag: str
    author: str
    at: str

    def data(self) -> dict[str, Any]:
        return dict(orjson.loads(self.document))


class Revisions:
    """The pending revisions table (see the module docstring)."""

    def __init__(self, index: CatalogIndex) -> None:
        self.index = index
        index.ensure("revisions", lambda: index.database.create(SCHEMA))

    def _db(self) -> Connection:
        return self.index.connection()

    def put(self, identifier: str, type_: str, data: dict[str, Any], author: str) -> Revision:
        document = orjson.dumps(data)
        at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        revision = Revision(identifier, type_, document, revision_etag(document), author, at)
        with self.index.transaction() as db:
            db.execute(
                "INSERT INTO asset_revisions (identifier, type, document, etag,"
                " author, at) VALUES (?,?,?,?,?,?) ON CONFLICT (identifier) DO UPDATE SET"
                " type = excluded.type, document = excluded.document, etag = excluded.etag,"
                " author = excluded.author, at = excluded.at",
                (identifier, type_, document, revision.etag, author, at),
            )
        return revision

    def get(self, identifier: str) -> Revision | None:
        row = (
            self._db()
            .execute(
                "SELECT identifier, type, document, etag, author, at FROM asset_revisions"
                " WHERE identifier = ?",
                (identifier,),
            )
            .fetchone()
        )
        if row is None:
            return None
        return Revision(str(row[0]), str(row[1]), bytes(row[2]), *(str(v) for v in row[3:]))

    def drop(self, identifiers: list[str]) -> None:
        with self.index.transaction() as db:
            db.executemany(
                "DELETE FROM asset_revisions WHERE identifier = ?", [(i,) for i in identifiers]
            )

    def identifiers(self, limit: int, offset: int) -> list[str]:
        return [
            str(i)
            for (i,) in self._db().execute(
                "SELECT identifier FROM asset_revisions ORDER BY at, identifier LIMIT ? OFFSET ?",
                (limit, offset),
            )
        ]
