"""The link index: the database ``links`` (``kg.db``: ``links.sqlite`` beside the catalogue
index, or the schema ``links`` of ``AIOD_KG_DATABASE``; ``None``: a private in-memory SQLite),
derived from the store and rebuildable from it like the search index. It holds each public
asset's strong keys, the links it claims, the features duplicates are scored on and the
duplicate proposals with the moderators' decisions (the only state that is not derived: kept
across rebuilds). The quality and suggestion books keep their tables in the same database
(``create``, ``transaction``, ``query``)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from kg.db.database import Connection, Database, SqliteDatabase
from kg.linking.extract import Claim, Features, normalise_name

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
CREATE TABLE IF NOT EXISTS duplicates (id INTEGER PRIMARY KEY AUTOINCREMENT, a TEXT, b TEXT,
  type TEXT,
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
    """The link index on ``db`` (a database, a SQLite file, or ``None``: in memory). This
    process's threads take turns (one lock: an in-memory database is one shared cache);
    writers of other processes wait for ``transaction``'s serialised write transaction."""

    def __init__(self, db: Database | Path | None) -> None:
        self.db = db if isinstance(db, Database) else SqliteDatabase(db, "links")
        self.path = getattr(self.db, "path", None)
        self._lock = threading.RLock()
        self._open: Connection | None = None  # the transaction the lock's holder has open
        # name tokens known to be held by more than BLOCK_MAX_DF assets (they no longer block:
        # their capped count is not run again for every asset written; forgotten on removals)
        self._frequent: set[str] = set()
        self.create(SCHEMA)

    def create(self, ddl: str) -> None:
        """Tables of this index or of a book kept beside it (idempotent)."""
        with self._lock:
            self.db.create(ddl)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction; one opened inside another (same thread: the lock is held)
        joins it, so a batch (kg.linking's linker and the books following it) commits or rolls
        back as one."""
        with self._lock:
            if self._open is not None:
                yield self._open
                return
            with self.db.transaction() as conn:
                self._open = conn
                try:
                    yield conn
                finally:
                    self._open = None

    def query(self, sql: str, params: Iterable[object] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            rows: list[tuple[object, ...]] = (
                self.db.connection().execute(sql, tuple(params)).fetchall()
            )
            return rows

    # ------------------------------------------------------------------ writes

    def put(self, f: Features, modified: str, fresh: bool = False) -> None:
        """Index an asset's features; ``fresh``: it is not indexed (``indexed`` said so, in
        this transaction), so there are no rows of it to drop first."""
        with self.transaction() as db:
            if not fresh:
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
                "INSERT INTO keys (key, identifier) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [(k, f.identifier) for k in f.keys],
            )
            db.executemany(
                "INSERT INTO claims VALUES (?, ?, ?, ?, ?)",
                [(f.identifier, c.predicate, c.key, c.target, c.field) for c in f.claims],
            )
            if f.type != "persons":
                db.executemany(
                    "INSERT INTO tokens (token, identifier) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    [(t, f.identifier) for t in blocking_keys(f.name)],
                )

    def remove(self, identifier: str) -> None:
        with self.transaction() as db:
            self._drop(db, identifier)
        self._frequent.clear()  # a token may have fallen under the limit again

    def clear_derived(self) -> None:
        """Forget everything derived from the store (the moderators' decisions stay)."""
        with self.transaction() as db:
            for table in ("assets", "keys", "claims", "tokens"):
                db.execute(f"DELETE FROM {table}")
            db.execute("DELETE FROM duplicates WHERE status = 'proposed'")
        self._frequent.clear()

    @staticmethod
    def _drop(db: Connection, identifier: str) -> None:
        for table in ("assets", "keys", "claims", "tokens"):
            db.execute(f"DELETE FROM {table} WHERE identifier = ?", (identifier,))

    # ------------------------------------------------------------------ reads

    def asset(self, identifier: str) -> tuple[str, str, str] | None:
        """``(type, platform, name)`` of an indexed asset."""
        rows = self.query(
            "SELECT type, platform, name FROM assets WHERE identifier = ?", [identifier]
        )
        return (str(rows[0][0]), str(rows[0][1]), str(rows[0][2])) if rows else None

    def indexed(self, identifiers: list[str]) -> set[str]:
        """Those of ``identifiers`` that are indexed (have an ``assets`` row)."""
        out: set[str] = set()
        for start in range(0, len(identifiers), 500):
            chunk = identifiers[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.query(f"SELECT identifier FROM assets WHERE identifier IN ({marks})", chunk)
            out.update(str(i) for (i,) in rows)
        return out

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
        for token in sorted(blocking_keys(name) - self._frequent):
            (count,) = self.query(
                "SELECT COUNT(*) FROM (SELECT 1 FROM tokens WHERE token = ? LIMIT ?) AS hits",
                [token, BLOCK_MAX_DF + 1],
            )[0]
            if int(str(count)) <= BLOCK_MAX_DF:
                tokens.append(token)
            else:
                self._frequent.add(token)
        if not tokens:
            return []
        marks = ",".join("?" * len(tokens))
        # counted on the tokens' primary key alone, then one join per asset (not per token)
        rows = self.query(
            f"SELECT h.identifier, a.name FROM (SELECT identifier, COUNT(*) AS shared"
            f" FROM tokens WHERE token IN ({marks}) AND identifier != ? GROUP BY identifier)"
            " AS h JOIN assets a ON a.identifier = h.identifier WHERE a.type = ?"
            " ORDER BY h.shared DESC, h.identifier LIMIT ?",
            [*tokens, identifier, type_, limit],
        )
        return [(str(i), str(n)) for (i, n) in rows]

    def candidates_many(
        self, wanted: list[tuple[str, str, str]], limit: int = 100
    ) -> dict[str, list[tuple[str, str]]]:
        """``candidates`` of several ``(identifier, type, name)`` at once (the same result
        for each): every blocking key is counted and its holders read once for the batch,
        then each asset's holders are counted in memory (assets written together, from one
        harvest or node, share most of their name tokens)."""
        keys = {identifier: blocking_keys(name) for identifier, _, name in wanted}
        postings: dict[str, dict[str, list[str]]] = {}  # token -> type -> holders
        names: dict[str, str] = {}
        for token in sorted(set().union(*keys.values()) - self._frequent):
            rows = self.query(
                "SELECT t.identifier, a.type, a.name FROM tokens t JOIN assets a"
                " ON a.identifier = t.identifier WHERE t.token = ? LIMIT ?",
                [token, BLOCK_MAX_DF + 1],
            )
            if len(rows) > BLOCK_MAX_DF:
                self._frequent.add(token)
                continue
            by_type = postings[token] = {}
            for holder, kind, name in rows:
                by_type.setdefault(str(kind), []).append(str(holder))
                names[str(holder)] = str(name)
        # the keys every asset of a type shares (one harvest's common words) counted once
        common: dict[str, set[str]] = {}
        for identifier, type_, _ in wanted:
            mine = keys[identifier]
            common[type_] = common[type_] & mine if type_ in common else set(mine)
        base: dict[str, Counter[str]] = {}
        for type_, shared_keys in common.items():
            base[type_] = Counter()
            for token in sorted(shared_keys):
                base[type_].update(postings.get(token, {}).get(type_, ()))
        out: dict[str, list[tuple[str, str]]] = {}
        for identifier, type_, _ in wanted:
            shared = base[type_].copy()
            for token in keys[identifier] - common[type_]:
                shared.update(postings.get(token, {}).get(type_, ()))
            shared.pop(identifier, None)
            # most shared keys first, then by identifier (stable sorts, in C)
            ranked = sorted(shared)
            ranked.sort(key=shared.__getitem__, reverse=True)
            out[identifier] = [(holder, names[holder]) for holder in ranked[:limit]]
        return out

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
        self.db.close()
