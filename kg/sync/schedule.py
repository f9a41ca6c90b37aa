"""Scheduled push sync (``aiod-kg serve --sync-every``): one run now, then one every
``every`` seconds, in a background thread of the server process.

Runs never overlap: each takes the node's sync lock (``kg.sync.state.sync_lock``, an
exclusive ``flock`` on ``sync.lock`` beside ``sync.sqlite`` and, with ``AIOD_KG_DATABASE``, a
PostgreSQL session advisory lock), so of several server processes (workers), replicas on other
machines or an ``aiod-kg sync`` started by hand, one runs and the others skip that turn. A run
that fails, stops (the central down) or has refused pushes is logged as a
warning, and the schedule goes on.
"""

from __future__ import annotations

import logging
import threading

from kg.sync.pusher import BUSY, Pusher, SyncReport

log = logging.getLogger("aiod_kg.sync")


class SyncScheduler:
    def __init__(self, pusher: Pusher, every: float) -> None:
        self.pusher = pusher
        self.every = every
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="sync-scheduler", daemon=True)
        self.reports: list[SyncReport] = []

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)
        if not self.thread.is_alive():
            self.pusher.close()

    def run_once(self) -> SyncReport | None:
        try:
            report = self.pusher.run()
        except Exception:  # a failed run must not stop the schedule
            log.exception("sync to %s failed", self.pusher.central)
            return None
        # a run that could not finish (central down, refused pushes) is the operator's concern
        trouble = report.errors or (report.stopped and report.stopped != BUSY)
        level = logging.WARNING if trouble else logging.INFO
        log.log(
            level,
            "sync: %d created, %d updated, %d deleted, %d unchanged, %d errors%s",
            report.created,
            report.updated,
            report.deleted,
            report.unchanged,
            len(report.errors),
            f"; stopped: {report.stopped}" if report.stopped else "",
        )
        self.reports = [*self.reports[-9:], report]
        return report

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            self.run_once()
            self.stop_event.wait(self.every)
