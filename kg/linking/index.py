"""The link index: SQLite beside the catalogue index (``links.sqlite``), derived from the store
and rebuildable from it like the search index. It holds each public asset's strong keys, the
links it claims, the features duplicates are scored on and the duplicate proposals with the
moderators' decisions (the only state that is not derived: kept across rebuilds)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from kg.linking.extract import Claim, Features, normalise_name
from kg.db.database import connect

SCHEMA = """
CREATE TABLE IF NOT EXISTS assets (identifier TEXT PRIMARY KEY, type TEXT, platform TEXT,
  name TEXT, description TEXT, creators BLOB, files BLOB, modified TEXT);
CREATE TABLE IF NOT EXISTS keys (key TEXT, identifier TEXT, PRIMARY KEY (key, identifier));
CREATE INDEX IF NOT EXISTS keys_identifier ON keys (identifier);
CREATE TABLE IF NOT EXISTS claims (identifier TEXT, predicate TEXT, key TEXT, target TEXT,
  field TEXT);
CREATE INDEX IF NOT EXISTS claims_key ON claims (key);
CREATE INDEX IF NOT EXISTS claims_identifier ON claims (identifier);
CREATE TABLE IF NOT EXISTS tokens (token TEXT, identifier TEXT, PRIMARY KEY (token, identifier));
CREATE INDEX IF NOT EXISTS tokens_identifier ON tokens (identifier);
CREATE TABLE IF NOT EXISTS duplicates (id INTEGER PRIMARY KEY, a TEXT, b TEXT, type TEXT,
  score REAL, evidence BLOB, status TEXT, decided_by TEXT, decided_at TEXT, UNIQUE (a, b));
CREATE INDEX IF NOT EXISTS duplicates_b ON duplicates (b);
"""
BLOCK_MAX_DF = 2000  # a name token shared by more assets than this does not block


def blocking_keys(name: str) -> set[str]:
    """Name tokens, their 3-letter prefixes and sorted letters, and the name without spaces
    (typos, swaps and moved separators still meet)."""
    out: set[str] = set()
    normal = normalise_name(name)
    for token in normal.split():
        if len(token) < 2:
            continue
        out.add(token)
        if len(token) >= 3 and not token.isdigit():
            out.add("p:" + token[:3])
        if len(token) >= 4 and not token.isdigit():
            out.add("s:" + "".join(sorted(token)))
    joined = normal.replace(" ", "")
    if " " in normal and len(joined) >= 4:
        out.add("s:" + "".join(sorted(joined)))
    return out


class LinkIndex:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._local = threading.local()
        self._lock = threading.RLock()
        self._memory: sqlite3.Connection | None = None
        with self.transaction() as db:
            db.executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        if self.path is None:
            if self._memory is None:
                self._memory = sqlite3.connect(":memory:", check_same_thread=False)
            return self._memory
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, isolation_level="DEFERRED")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._conn()
            with conn:
                yield conn

    def query(self, sql: str, params: Iterable[object] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            return self._conn().execute(sql, tuple(params)).fetchall()

    # ------------------------------------------------------------------ writes

    def put(self, f: Features, modified: str) -> None:
        with self.transaction() as db:
            self._drop(db, f.identifier)
            db.execute(
                "INSERT INTO assets VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    f.identifier,
                    f.type,
                    f.platform,
                    f.name,
                    f.description,
                    orjson.dumps(f.creators),
                    orjson.dumps(f.files),
                    modified,
                ),
            )
            db.executemany(
                "INSERT OR IGNORE INTO keys VALUES (?, ?)", ((k, f.identifier) for k in f.keys)
            )
            db.executemany(
                "INSERT INTO claims VALUES (?, ?, ?, ?, ?)",
                ((f.identifier, c.predicate, c.key, c.target, c.field) for c in f.claims),
            )
            if f.type != "persons":
                db.executemany(
                    "INSERT OR IGNORE INTO tokens VALUES (?, ?)",
                    ((t, f.identifier) for t in blocking_keys(f.name)),
                )

    def remove(self, identifier: str) -> None:
        with self.transaction() as db:
            self._drop(db, identifier)

    def clear_derived(self) -> None:
        """Forget everything derived from the store (the moderators' decisions stay)."""
        with self.transaction() as db:
            for table in ("assets", "keys", "claims", "tokens"):
                db.execute(f"DELETE FROM {table}")
            db.execute("DELETE FROM duplicates WHERE status = 'proposed'")

    @staticmethod
    def _drop(db: sqlite3.Connection, identifier: str) -> None:
        for table in ("assets", "keys", "claims", "tokens"):
            db.execute(f"DELETE FROM {table} WHERE identifier = ?", (identifier,))

    # ------------------------------------------------------------------ reads

    def asset(self, identifier: str) -> tuple[str, str, str] | None:
        """``(type, platform, name)`` of an indexed asset."""
        rows = self.query(
            "SELECT type, platform, name FROM assets WHERE identifier = ?", [identifier]
        )
        return (str(rows[0][0]), str(rows[0][1]), str(rows[0][2])) if rows else None

    def modified(self) -> dict[str, str]:
        return {str(i): str(m) for i, m in self.query("SELECT identifier, modified FROM assets")}

    def keys(self, identifier: str) -> list[str]:
        return [
            str(k) for (k,) in self.query("SELECT key FROM keys WHERE identifier = ?", [identifier])
        ]

    def holders(self, keys: list[str]) -> list[tuple[str, str]]:
        """``(key, identifier)`` of the assets whose own keys are among ``keys``."""
        if not keys:
            return []
        marks = ",".join("?" * len(keys))
        rows = self.query(f"SELECT key, identifier FROM keys WHERE key IN ({marks})", keys)
        return [(str(k), str(i)) for k, i in rows]

    def claims(self, identifier: str) -> list[Claim]:
        rows = self.query(
            "SELECT predicate, key, target, field FROM claims WHERE identifier = ?", [identifier]
        )
        return [Claim(str(p), str(k), str(t), str(f)) for p, k, t, f in rows]

    def claimants(self, keys: list[str]) -> list[tuple[str, Claim]]:
        """Assets claiming a link to one of ``keys``."""
        if not keys:
            return []
        marks = ",".join("?" * len(keys))
        rows = self.query(
            f"SELECT identifier, predicate, key, target, field FROM claims WHERE key IN ({marks})",
            keys,
        )
        return [(str(i), Claim(str(p), str(k), str(t), str(f))) for i, p, k, t, f in rows]

    def candidates(
        self, identifier: str, type_: str, name: str, limit: int = 100
    ) -> list[tuple[str, str]]:
        """``(identifier, name)`` of assets of the same type whose names share blocking keys
        with ``name``, those sharing most first."""
        tokens = []
        for token in blocking_keys(name):
            (count,) = self.query(
                "SELECT COUNT(*) FROM (SELECT 1 FROM tokens WHERE token = ? LIMIT ?)",
                [token, BLOCK_MAX_DF + 1],
            )[0]
            if int(str(count)) <= BLOCK_MAX_DF:
                tokens.append(token)
        if not tokens:
            return []
        marks = ",".join("?" * len(tokens))
        rows = self.query(
            f"SELECT t.identifier, a.name FROM tokens t JOIN assets a"
            f" ON a.identifier = t.identifier WHERE t.token IN ({marks}) AND t.identifier != ?"
            " AND a.type = ? GROUP BY t.identifier ORDER BY COUNT(*) DESC LIMIT ?",
            [*tokens, identifier, type_, limit],
        )
        return [(str(i), str(n)) for (i, n) in rows]

    def features(self, identifier: str) -> tuple[str, str, list[str], list[str]] | None:
        rows = self.query(
            "SELECT name, description, creators, files FROM assets WHERE identifier = ?",
            [identifier],
        )
        if not rows:
            return None
        name, description, creators, files = rows[0]
        return (
            str(name),
            str(description or ""),
            orjson.loads(creators),  # type: ignore[arg-type]
            orjson.loads(files),  # type: ignore[arg-type]
        )

    def names(self, identifiers: list[str]) -> dict[str, str]:
        if not identifiers:
            return {}
        marks = ",".join("?" * len(identifiers))
        rows = self.query(
            f"SELECT identifier, name FROM assets WHERE identifier IN ({marks})",
            identifiers,
        )
        return {str(i): str(n) for i, n in rows}

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        if self._memory is not None:
            self._memory.close()
