"""Write rate-limit buckets shared by every process and replica of one catalog.

This module owns the ``buckets`` table of the ``rate_limits`` database (``kg.db``): one token
bucket per client (a hash of its credential, or its address), ``limit`` writes per ``window``
seconds, refilled smoothly. ``SharedBuckets.take`` reads, refills, takes and writes a bucket in
one serialised write transaction (``Database.transaction``: ``BEGIN IMMEDIATE`` on SQLite, an
advisory transaction lock on PostgreSQL), so two replicas taking from the same bucket at once
never both get the last token. Time is the wall clock (``time.time``), the one clock replicas on
several machines share; a bucket stamped in the future (a skewed clock) is not refilled until
that time has passed.

The API's middleware (``api.hardening.WriteRateLimit``) uses it when the rate limit must hold
across processes (``AIOD_KG_DATABASE`` set, or ``--workers`` above 1) and calls ``take`` off the
event loop; one process alone keeps its buckets in memory (``api.hardening.TokenBuckets``).
Buckets untouched for a window are full again, so they are deleted now and then.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from kg.db import Database, open_database

if TYPE_CHECKING:
    from kg.settings import Settings

NAME = "rate_limits"
SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    client TEXT PRIMARY KEY,
    tokens REAL NOT NULL,
    stamp REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS buckets_stamp ON buckets (stamp);
"""
PRUNE_EVERY = 1000  # takes between two deletions of full buckets


class SharedBuckets:
    """Per-client token buckets in a database (see the module docstring)."""

    def __init__(self, database: Database, limit: int, window: float) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a rate limit needs limit >= 1 and window > 0")
        self.database = database
        self.limit = limit
        self.window = window
        self.rate = limit / window
        self._takes = 0
        database.create(SCHEMA)

    @classmethod
    def from_settings(cls, settings: Settings) -> SharedBuckets:
        return cls(
            open_database(settings, NAME), settings.write_rate_limit, settings.write_rate_window
        )

    def take(self, client: str, now: float | None = None) -> float:
        """0 if the write may go ahead (a token is taken), else the seconds until it may."""
        now = time.time() if now is None else now
        with self.database.transaction() as conn:
            row = conn.execute(
                "SELECT tokens, stamp FROM buckets WHERE client = ?", (client,)
            ).fetchone()
            tokens, stamp = (float(row[0]), float(row[1])) if row else (float(self.limit), now)
            tokens = min(float(self.limit), tokens + max(0.0, now - stamp) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            if wait == 0.0:
                tokens -= 1
            conn.execute(
                "INSERT INTO buckets (client, tokens, stamp) VALUES (?, ?, ?)"
                " ON CONFLICT (client) DO UPDATE SET tokens = excluded.tokens,"
                " stamp = excluded.stamp",
                (client, tokens, max(now, stamp)),
            )
        self._takes += 1
        if self._takes % PRUNE_EVERY == 0:
            self.prune(now)
        return wait

    def prune(self, now: float | None = None) -> int:
        """Delete the buckets a whole window has refilled (they equal a new one)."""
        now = time.time() if now is None else now
        with self.database.transaction() as conn:
            cursor = conn.execute("DELETE FROM buckets WHERE stamp < ?", (now - self.window,))
            return int(cursor.rowcount)

    def close(self) -> None:
        self.database.close()
