"""Harvest state in the database ``harvest`` (``kg.db``: ``harvest.sqlite`` beside the catalogue
index, or the schema ``harvest`` of ``AIOD_KG_DATABASE``).

The open run of each source with its cursor, what each source last produced (asset key,
identifier, content hash, modification time) and each source's last report; one transaction
per written page, so a run killed at any point resumes from its last written page.

And the harvest leases (table ``leases``, one row per source: holder and expiry): a run takes
its source's lease with a conditional upsert in a serialised transaction (free, expired, or
already its own), renews it while it lasts and releases it at the end (``kg.harvest.lease``
holds the heartbeat). While this object holds a source's lease, every write of that source's
state checks, in the same transaction, that the lease is still its own (``LeaseLost``
otherwise): a replica that stalled past the TTL and was taken over cannot move the cursor
under the new holder.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from kg.db.database import Connection, Database, SqliteDatabase, open_database
from kg.harvest.contract import JSON, Key

if TYPE_CHECKING:
    from kg.settings import Settings


def now_text() -> str:
    """The current UTC time as the state and reports write it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")


STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    source TEXT PRIMARY KEY,
    connector TEXT NOT NULL,
    run_id TEXT NOT NULL,
    started TEXT NOT NULL,
    since TEXT,
    cursor BLOB,
    seen INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sources (
    source TEXT PRIMARY KEY,
    connector TEXT NOT NULL,
    last_started TEXT,
    last_finished TEXT,
    last_full_started TEXT,
    last_report BLOB
);
CREATE TABLE IF NOT EXISTS records (
    source TEXT NOT NULL,
    asset TEXT NOT NULL,
    platform TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    identifier TEXT NOT NULL,
    hash TEXT NOT NULL,
    modified TEXT NOT NULL,
    run_id TEXT NOT NULL,
    is_primary INTEGER NOT NULL,
    PRIMARY KEY (source, asset, platform, resource_id)
);
CREATE INDEX IF NOT EXISTS records_run ON records (source, run_id);
CREATE TABLE IF NOT EXISTS leases (
    source TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires REAL NOT NULL,
    taken TEXT NOT NULL
);
"""


class LeaseLost(RuntimeError):
    """Another holder took the lease of a source this process was harvesting."""


@dataclass(frozen=True)
class LeaseInfo:
    """Who holds a source's lease, and until when (seconds since the epoch, the database's
    clock on PostgreSQL)."""

    source: str
    holder: str
    expires: float
    taken: str

    def describe(self) -> str:
        until = datetime.fromtimestamp(self.expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{self.holder} (since {self.taken}, lease until {until})"


@dataclass
class OpenRun:
    run_id: str
    started: str
    since: str | None
    cursor: JSON | None
    seen: int


@dataclass
class Produced:
    """What the state remembers of one harvested asset."""

    identifier: str
    hash: str
    modified: str


class HarvestState:
    """Harvest state (``Database`` ``harvest``): crash-safe, one transaction per written page."""

    def __init__(self, db: Database | Path | None) -> None:
        """``db``: the database, or a SQLite file (``None``: a private in-memory one)."""
        self.db = db if isinstance(db, Database) else SqliteDatabase(db, "harvest")
        self.db.create(STATE_SCHEMA)
        self._held: dict[str, str] = {}  # source -> holder, the leases this object holds

    @classmethod
    def from_settings(cls, settings: Settings) -> HarvestState:
        """The state where the settings put it (``kg.db.open_database``)."""
        return cls(open_database(settings, "harvest"))

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------ leases

    def _now(self, conn: Connection) -> float:
        """The lease clock: the database server's on PostgreSQL (replicas' clocks may
        differ), this host's on SQLite (one host)."""
        if self.db.dialect == "postgresql":
            (value,) = conn.execute("SELECT EXTRACT(EPOCH FROM clock_timestamp())").fetchone()
            return float(value)
        return time.time()

    def take_lease(self, source: str, holder: str, seconds: float) -> LeaseInfo | None:
        """Take (or renew) ``source``'s lease for ``seconds`` if it is free, expired or
        ``holder``'s own; None if it is; else who holds it."""
        with self.db.transaction() as conn:
            now = self._now(conn)
            conn.execute(
                "INSERT INTO leases (source, holder, expires, taken) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (source) DO UPDATE SET holder = excluded.holder,"
                " expires = excluded.expires,"
                " taken = CASE WHEN leases.holder = excluded.holder THEN leases.taken"
                " ELSE excluded.taken END"
                " WHERE leases.holder = excluded.holder OR leases.expires < ?",
                (source, holder, now + seconds, now_text(), now),
            )
            found = self._lease(conn, source)
        if found is not None and found.holder == holder:
            self._held[source] = holder
            return None
        return found

    def renew_lease(self, source: str, holder: str, seconds: float) -> bool:
        """Extend ``holder``'s lease; False: it is no longer its own (taken over)."""
        with self.db.transaction() as conn:
            now = self._now(conn)
            renewed = conn.execute(
                "UPDATE leases SET expires = ? WHERE source = ? AND holder = ?",
                (now + seconds, source, holder),
            ).rowcount
        return renewed == 1

    def release_lease(self, source: str, holder: str) -> None:
        """Give the lease back (if still ``holder``'s): the next replica need not wait."""
        self._held.pop(source, None)
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM leases WHERE source = ? AND holder = ?", (source, holder))

    def lease(self, source: str) -> LeaseInfo | None:
        """Who holds ``source``'s lease (expired or not), if anyone."""
        return self._lease(self.db.connection(), source)

    @staticmethod
    def _lease(conn: Connection, source: str) -> LeaseInfo | None:
        row = conn.execute(
            "SELECT holder, expires, taken FROM leases WHERE source = ?", (source,)
        ).fetchone()
        return None if row is None else LeaseInfo(source, row[0], float(row[1]), row[2])

    def _fence(self, conn: Connection, source: str) -> None:
        """Inside a write transaction: the lease this object held on ``source`` is still its
        own (``LeaseLost`` otherwise). Sources it holds no lease on are not checked."""
        holder = self._held.get(source)
        if holder is None:
            return
        found = self._lease(conn, source)
        if found is None or found.holder != holder:
            self._held.pop(source, None)
            taker = found.describe() if found else "nobody (released)"
            raise LeaseLost(f"the harvest lease of {source} was taken over by {taker}")

    # ------------------------------------------------------------------ runs and records

    def open_run(self, source: str) -> OpenRun | None:
        row = (
            self.db.connection()
            .execute(
                "SELECT run_id, started, since, cursor, seen FROM runs WHERE source = ?",
                (source,),
            )
            .fetchone()
        )
        if row is None:
            return None
        cursor = orjson.loads(bytes(row[3])) if row[3] else None
        return OpenRun(row[0], row[1], row[2], cursor, int(row[4]))

    def begin(self, source: str, connector: str, run: OpenRun) -> None:
        with self.db.transaction() as conn:
            self._fence(conn, source)
            conn.execute(
                "INSERT INTO runs (source, connector, run_id, started, since, cursor, seen)"
                " VALUES (?,?,?,?,?,?,0) ON CONFLICT (source) DO UPDATE SET"
                " connector = excluded.connector, run_id = excluded.run_id,"
                " started = excluded.started, since = excluded.since, cursor = excluded.cursor,"
                " seen = excluded.seen",
                (source, connector, run.run_id, run.started, run.since, None),
            )

    def source(self, source: str) -> dict[str, Any] | None:
        row = (
            self.db.connection()
            .execute(
                "SELECT last_started, last_finished, last_full_started, last_report FROM sources"
                " WHERE source = ?",
                (source,),
            )
            .fetchone()
        )
        if row is None:
            return None
        return {
            "last_started": row[0],
            "last_finished": row[1],
            "last_full_started": row[2],
            "last_report": orjson.loads(bytes(row[3])) if row[3] else None,
        }

    def produced(self, source: str, keys: Sequence[Key]) -> dict[Key, Produced]:
        out: dict[Key, Produced] = {}
        conn = self.db.connection()
        for key in keys:
            row = conn.execute(
                "SELECT identifier, hash, modified FROM records WHERE source = ? AND asset = ?"
                " AND platform = ? AND resource_id = ?",
                (source, key.asset, key.platform, key.resource_id),
            ).fetchone()
            if row is not None:
                out[key] = Produced(row[0], row[1], row[2])
        return out

    def commit_page(
        self,
        source: str,
        run_id: str,
        written: dict[Key, tuple[Produced, bool]],
        touched: Iterable[Key],
        forgotten: Iterable[Key],
        cursor: JSON | None,
        seen: int,
    ) -> None:
        """Record a written page: produced assets, kept-alive keys, deletions and the cursor."""
        with self.db.transaction() as db:
            self._fence(db, source)
            db.executemany(
                "INSERT INTO records (source, asset, platform, resource_id, identifier, hash,"
                " modified, run_id, is_primary) VALUES (?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (source, asset, platform, resource_id) DO UPDATE SET"
                " identifier = excluded.identifier, hash = excluded.hash,"
                " modified = excluded.modified, run_id = excluded.run_id,"
                " is_primary = excluded.is_primary",
                [
                    (
                        source,
                        k.asset,
                        k.platform,
                        k.resource_id,
                        p.identifier,
                        p.hash,
                        p.modified,
                        run_id,
                        int(primary),
                    )
                    for k, (p, primary) in written.items()
                ],
            )
            db.executemany(
                "UPDATE records SET run_id = ? WHERE source = ? AND asset = ? AND platform = ?"
                " AND resource_id = ?",
                [(run_id, source, k.asset, k.platform, k.resource_id) for k in touched],
            )
            db.executemany(
                "DELETE FROM records WHERE asset = ? AND platform = ? AND resource_id = ?",
                [(k.asset, k.platform, k.resource_id) for k in forgotten],
            )
            if cursor is not None:
                db.execute(
                    "UPDATE runs SET cursor = ?, seen = ? WHERE source = ? AND run_id = ?",
                    (orjson.dumps(cursor), seen, source, run_id),
                )
            else:
                db.execute(
                    "UPDATE runs SET seen = ? WHERE source = ? AND run_id = ?",
                    (seen, source, run_id),
                )

    def stale(self, source: str, run_id: str) -> list[tuple[Key, str, bool]]:
        """Records of ``source`` that the run ``run_id`` did not see."""
        rows = (
            self.db.connection()
            .execute(
                "SELECT asset, platform, resource_id, identifier, is_primary FROM records"
                " WHERE source = ? AND run_id != ?",
                (source, run_id),
            )
            .fetchall()
        )
        return [(Key(r[0], r[1], r[2]), r[3], bool(r[4])) for r in rows]

    def also_produced(self, source: str, keys: Iterable[Key]) -> set[Key]:
        """Those of ``keys`` that another source produces too (a sweep of ``source`` keeps them)."""
        conn = self.db.connection()
        return {
            k
            for k in keys
            if conn.execute(
                "SELECT 1 FROM records WHERE source != ? AND asset = ? AND platform = ?"
                " AND resource_id = ? LIMIT 1",
                (source, k.asset, k.platform, k.resource_id),
            ).fetchone()
        }

    def forget(self, source: str, keys: Iterable[Key]) -> None:
        """``source`` no longer produces ``keys`` (other sources' records stay)."""
        with self.db.transaction() as conn:
            self._fence(conn, source)
            conn.executemany(
                "DELETE FROM records WHERE source = ? AND asset = ? AND platform = ?"
                " AND resource_id = ?",
                [(source, k.asset, k.platform, k.resource_id) for k in keys],
            )

    def count(self, source: str) -> int:
        row = (
            self.db.connection()
            .execute("SELECT COUNT(*) FROM records WHERE source = ?", (source,))
            .fetchone()
        )
        return int(row[0])

    def finish(self, source: str, connector: str, run: OpenRun, full: bool, report: JSON) -> None:
        with self.db.transaction() as db:
            self._fence(db, source)
            db.execute("DELETE FROM runs WHERE source = ? AND run_id = ?", (source, run.run_id))
            db.execute(
                "INSERT INTO sources (source, connector, last_started, last_finished,"
                " last_full_started, last_report) VALUES (?,?,?,?,?,?)"
                " ON CONFLICT(source) DO UPDATE SET connector = excluded.connector,"
                " last_started = excluded.last_started,"
                " last_finished = excluded.last_finished,"
                " last_full_started = COALESCE(excluded.last_full_started,"
                " sources.last_full_started), last_report = excluded.last_report",
                (
                    source,
                    connector,
                    run.started,
                    now_text(),
                    run.started if full else None,
                    orjson.dumps(report),
                ),
            )
