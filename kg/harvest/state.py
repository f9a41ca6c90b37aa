"""Harvest state in SQLite (``harvest.sqlite`` beside the catalogue index).

The open run of each source with its cursor, what each source last produced (asset key,
identifier, content hash, modification time) and each source's last report; one transaction
per written page, so a run killed at any point resumes from its last written page.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from kg.harvest.contract import JSON, Key
from kg.db.database import connect


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
"""


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
    """Harvest state in SQLite (WAL): crash-safe, one transaction per written page."""

    def __init__(self, path: Path | None) -> None:
        self.db = connect(path)
        self.db.executescript(STATE_SCHEMA)
        self.lock = threading.RLock()

    def close(self) -> None:
        self.db.close()

    def open_run(self, source: str) -> OpenRun | None:
        with self.lock:
            row = self.db.execute(
                "SELECT run_id, started, since, cursor, seen FROM runs WHERE source = ?",
                (source,),
            ).fetchone()
        if row is None:
            return None
        return OpenRun(row[0], row[1], row[2], orjson.loads(row[3]) if row[3] else None, row[4])

    def begin(self, source: str, connector: str, run: OpenRun) -> None:
        with self.lock:
            self.db.execute(
                "INSERT OR REPLACE INTO runs (source, connector, run_id, started, since, cursor,"
                " seen) VALUES (?,?,?,?,?,?,0)",
                (source, connector, run.run_id, run.started, run.since, None),
            )

    def source(self, source: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.db.execute(
                "SELECT last_started, last_finished, last_full_started, last_report FROM sources"
                " WHERE source = ?",
                (source,),
            ).fetchone()
        if row is None:
            return None
        return {
            "last_started": row[0],
            "last_finished": row[1],
            "last_full_started": row[2],
            "last_report": orjson.loads(row[3]) if row[3] else None,
        }

    def produced(self, source: str, keys: Sequence[Key]) -> dict[Key, Produced]:
        out: dict[Key, Produced] = {}
        with self.lock:
            for key in keys:
                row = self.db.execute(
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
        with self.lock:
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(
                    "INSERT OR REPLACE INTO records (source, asset, platform, resource_id,"
                    " identifier, hash, modified, run_id, is_primary) VALUES (?,?,?,?,?,?,?,?,?)",
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
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def stale(self, source: str, run_id: str) -> list[tuple[Key, str, bool]]:
        """Records of ``source`` that the run ``run_id`` did not see."""
        with self.lock:
            rows = self.db.execute(
                "SELECT asset, platform, resource_id, identifier, is_primary FROM records"
                " WHERE source = ? AND run_id != ?",
                (source, run_id),
            ).fetchall()
        return [(Key(r[0], r[1], r[2]), r[3], bool(r[4])) for r in rows]

    def also_produced(self, source: str, keys: Iterable[Key]) -> set[Key]:
        """Those of ``keys`` that another source produces too (a sweep of ``source`` keeps them)."""
        with self.lock:
            return {
                k
                for k in keys
                if self.db.execute(
                    "SELECT 1 FROM records WHERE source != ? AND asset = ? AND platform = ?"
                    " AND resource_id = ? LIMIT 1",
                    (source, k.asset, k.platform, k.resource_id),
                ).fetchone()
            }

    def forget(self, source: str, keys: Iterable[Key]) -> None:
        """``source`` no longer produces ``keys`` (other sources' records stay)."""
        with self.lock:
            self.db.executemany(
                "DELETE FROM records WHERE source = ? AND asset = ? AND platform = ?"
                " AND resource_id = ?",
                [(source, k.asset, k.platform, k.resource_id) for k in keys],
            )

    def count(self, source: str) -> int:
        with self.lock:
            row = self.db.execute(
                "SELECT COUNT(*) FROM records WHERE source = ?", (source,)
            ).fetchone()
        return int(row[0])

    def finish(self, source: str, connector: str, run: OpenRun, full: bool, report: JSON) -> None:
        with self.lock:
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
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
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
