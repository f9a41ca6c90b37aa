"""Scheduled harvesting (``aiod-kg serve --harvest-every``) and the parsing of intervals and
dates given on the command line.

Every replica of a catalog may run the schedule: each run takes its source's harvest lease
(``kg.harvest.lease``, in the harvest database), so only the holder harvests a source at a
time; the others log that the source is held and try again at their next turn. A holder
killed mid-run is taken over once its lease expires, from the run's last cursor."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from kg.harvest.contract import Connector
from kg.harvest.engine import Harvester
from kg.harvest.report import HarvestReport

log = logging.getLogger("aiod_kg.harvest")


class HarvestScheduler:
    """Runs connectors one after the other every ``every`` seconds in a background thread."""

    def __init__(
        self, harvester: Harvester, connectors: Callable[[], list[Connector]], every: float
    ) -> None:
        self.harvester = harvester
        self.connectors = connectors
        self.every = every
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="harvest-scheduler", daemon=True)
        self.reports: list[HarvestReport] = []

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)

    def run_once(self) -> list[HarvestReport]:
        reports = []
        for connector in self.connectors():
            if self.stop_event.is_set():
                break
            try:
                report = self.harvester.run(connector, since="auto")
            except Exception:  # a broken connector must not stop the schedule
                log.exception("harvest of %s failed", connector.name)
                continue
            log.info("%s", report.summary())  # held: "not run: ... is being harvested by ..."
            reports.append(report)
        self.reports = reports
        return reports

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            self.run_once()
            self.stop_event.wait(self.every)


def parse_interval(text: str) -> float:
    """Seconds in ``30s``, ``15m``, ``1h``, ``2d`` (a bare number is seconds)."""
    text = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text and text[-1] in units:
        value, unit = text[:-1], units[text[-1]]
    else:
        value, unit = text, 1
    seconds = float(value) * unit
    if seconds <= 0:
        raise ValueError(f"not a positive interval: {text!r}")
    return seconds


def parse_since(text: str) -> datetime:
    """A date or date-time (UTC unless a zone is given)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
