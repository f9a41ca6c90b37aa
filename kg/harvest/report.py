"""What a harvest run reports: counts per asset type and outcome, per-record errors, time per
stage (``HarvestReport``), and a progress bar on a terminal (``Progress``)."""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TextIO

from kg.harvest.contract import JSON, RecordError
from kg.harvest.state import now_text

MAX_ERRORS_KEPT = 1000

OUTCOMES = ("created", "updated", "unchanged", "deleted", "failed")


@dataclass
class HarvestReport:
    connector: str
    source: str
    run_id: str
    started: str
    dry_run: bool = False
    since: str | None = None
    finished: str | None = None
    resumed: bool = False
    completed: bool = False
    aborted: str | None = None  # why the run stopped early (a listing that kept failing)
    held: bool = False  # not run: another replica holds the source's harvest lease
    listed: int = 0  # upstream records read
    skipped: int = 0  # upstream records that are not assets we keep
    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: dict.fromkeys(OUTCOMES, 0))
    )
    errors: list[RecordError] = field(default_factory=list)
    error_count: int = 0
    swept: bool = False
    seconds: float = 0.0
    stages: dict[str, float] = field(
        default_factory=lambda: {"fetch": 0.0, "map": 0.0, "validate": 0.0, "write": 0.0}
    )
    requests: int = 0
    retries: int = 0

    @classmethod
    def not_run(cls, connector: str, source: str, holder: str) -> HarvestReport:
        """The report of a run not made: ``holder`` holds the source's harvest lease."""
        report = cls(connector, source, "", now_text(), held=True, finished=now_text())
        report.aborted = f"{source} is being harvested by {holder}"
        return report

    def add(self, asset: str, outcome: str, n: int = 1) -> None:
        self.counts[asset][outcome] += n

    def error(self, error: RecordError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(error)

    def total(self, outcome: str) -> int:
        return sum(c[outcome] for c in self.counts.values())

    @property
    def records_per_second(self) -> float:
        return self.listed / self.seconds if self.seconds else 0.0

    def stage_shares(self) -> dict[str, float]:
        busy = sum(self.stages.values()) or 1.0
        return {name: value / busy for name, value in self.stages.items()}

    def as_dict(self) -> JSON:
        return {
            "connector": self.connector,
            "source": self.source,
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "since": self.since,
            "started": self.started,
            "finished": self.finished,
            "resumed": self.resumed,
            "completed": self.completed,
            "aborted": self.aborted,
            "held": self.held,
            "listed": self.listed,
            "skipped": self.skipped,
            "totals": {o: self.total(o) for o in OUTCOMES},
            "counts": {k: dict(v) for k, v in sorted(self.counts.items())},
            "swept": self.swept,
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records_per_second, 1),
            "stages": {k: round(v, 3) for k, v in self.stages.items()},
            "requests": self.requests,
            "retries": self.retries,
            "error_count": self.error_count,
            "errors": [e.as_dict() for e in self.errors],
        }

    def summary(self) -> str:
        if self.held:
            return f"{self.connector}: not run: {self.aborted}"
        state = "completed" if self.completed else f"stopped ({self.aborted or 'limit'})"
        lines = [
            f"{self.connector}: {state}{' [dry run]' if self.dry_run else ''}"
            f"{' (resumed)' if self.resumed else ''} in {self.seconds:.1f} s,"
            f" {self.listed} records read ({self.records_per_second:.0f}/s),"
            f" {self.requests} requests, {self.retries} retries",
        ]
        for asset, counts in sorted(self.counts.items()):
            shown = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
            if shown:
                lines.append(f"  {asset}: {shown}")
        if self.skipped:
            lines.append(f"  skipped (not an asset type we keep): {self.skipped}")
        shares = self.stage_shares()
        lines.append(
            "  time: "
            + ", ".join(
                f"{name} {self.stages[name]:.2f} s ({shares[name]:.0%})" for name in self.stages
            )
        )
        if self.error_count:
            lines.append(f"  {self.error_count} errors:")
            for error in self.errors[:20]:
                lines.append(f"    [{error.stage}] {error.record}: {error.message}")
            if self.error_count > 20:
                lines.append(f"    ... {self.error_count - 20} more")
        return "\n".join(lines)


class Progress:
    """A one-line progress bar on a terminal (silent when the stream is not a TTY)."""

    def __init__(
        self, label: str, stream: TextIO | None = None, enabled: bool | None = None
    ) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.label = label
        self.total: int | None = None
        self.started = time.monotonic()
        self._last = 0.0

    def update(self, done: int, errors: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        rate = done / max(now - self.started, 1e-9)
        if self.total:
            fraction = min(1.0, done / self.total)
            filled = int(fraction * 30)
            bar = "█" * filled + "·" * (30 - filled)
            head = f"{self.label} ▕{bar}▏ {done}/{self.total}"
        else:
            head = f"{self.label} {done}"
        self.stream.write(f"\r{head} records  {rate:.0f}/s  {errors} errors\x1b[K")
        self.stream.flush()

    def close(self, done: int, errors: int) -> None:
        if self.enabled:
            self.update(done, errors, force=True)
            self.stream.write("\n")
            self.stream.flush()
