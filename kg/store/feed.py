"""Following the catalogue index's change feed: what other processes wrote.

``aiod-kg serve --workers N`` runs N processes on one catalog. Each keeps process-local
derived state (its search index); a write made by one process reaches the others through the
``feed`` table of the shared catalogue index (``kg.store.index``), which every write appends
to in its own transaction. ``FeedFollower`` polls it (``interval``, 0.1 s: a change is seen
within it plus the time to apply it), skips the rows its own process wrote (those reached
the process's listeners directly) and hands the others, in order, to ``apply``. When it fell
further behind than the feed keeps, or the index was cleared, it calls ``restart`` (compare
everything again) instead. The seam is the table: with ``AIOD_KG_DATABASE`` the index lives
in PostgreSQL and replicas on other machines follow the same feed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from kg.store.index import FEED_ALL, CatalogIndex

log = logging.getLogger("kg.store.feed")

FOLLOW_INTERVAL = 0.1  # seconds between two looks at the feed (one indexed read)


class FeedFollower:
    """A background thread handing other processes' changes to ``apply``."""

    def __init__(
        self,
        index: CatalogIndex,
        apply: Callable[[Sequence[tuple[str, str]]], None],
        restart: Callable[[], None],
        *,
        interval: float = FOLLOW_INTERVAL,
        name: str = "feed-follower",
    ) -> None:
        self.index = index
        self.apply = apply
        self.restart = restart
        self.interval = interval
        # from now on: what came before is the follower's owner's to reconcile at start
        self.position = index.feed_last()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> FeedFollower:
        self._thread.start()
        return self

    def poll(self) -> int:
        """Apply what the feed holds past ``position``; returns how many changes were read."""
        rows, complete = self.index.feed_since(self.position)
        if not rows:
            return 0
        if not complete or any(identifier == FEED_ALL for _, identifier, _, _ in rows):
            self.position = self.index.feed_last()
            self.restart()
            return len(rows)
        others = [(i, t) for _, i, t, origin in rows if origin != self.index.origin]
        if others:
            self.apply(others)
        self.position = rows[-1][0]
        return len(rows)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                while self.poll() and not self._stop.is_set():
                    pass  # a backlog: read on without waiting
            except Exception:  # a locked or closing database: try again at the next tick
                log.exception("following the change feed failed")

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
