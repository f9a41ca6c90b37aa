"""The harvest engine: runs one connector and keeps the catalog in step with its upstream.

The engine knows no platform. A connector (``mappings/<platform>.py``) lists upstream
records page by page, fetches per-record details and maps them to AIoD JSON ``Item`` s;
the engine does everything else, the same way for every platform:

* persisted state (``harvest.sqlite`` beside the store): the open run of each source with
  its cursor, and every record the source produced (asset key, identifier, content hash),
  committed in one SQLite transaction after each page's writes, so a run killed at any point
  resumes from its last written page and reaches the same final state;
* HTTP with timeouts, retries of 429/5xx and transport errors honouring ``Retry-After``,
  else exponential backoff with jitter (``Http``);
* idempotent upserts keyed by ``(platform, platform_resource_identifier)`` through
  ``Catalog.save_many(mode="upsert")``; a record whose mapped content did not change is not
  rewritten (so a second harvest changes nothing, not even ``date_modified``);
* related assets (a dataset's creators, citations) written first, references filled in with
  their identifiers;
* deletions: explicit ones from the connector (OAI-PMH ``deleted`` headers, deactivated
  datasets) and, after a run that listed everything, records the source produced before but
  no longer lists (``Catalog.delete_many`` keeps a tombstone);
* a per-record error list in the report instead of an abort; a progress bar on a terminal.

Fetching runs one page ahead in a background thread (per-record requests in a small thread
pool), so upstream latency overlaps with mapping, validation and writing.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import logging
import queue
import random
import sqlite3
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO

import httpx
import orjson

from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES, AssetType
from kg.model.rdf_mapping import asset_iri, asset_to_triples
from kg.model.validation import validate_conversions
from kg.settings import Settings
from kg.store.backends import index_path

JSON = dict[str, Any]
log = logging.getLogger("aiod_kg.harvest")

RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
RETRY_AFTER_MAX = 900.0  # never wait longer than this for one Retry-After
MAX_ERRORS_KEPT = 1000
FULL_RUN_EVERY = timedelta(days=7)  # "auto" runs list everything at least this often
AUTO_OVERLAP = timedelta(hours=1)  # "auto" incremental runs start this long before the last


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, order=True)
class Key:
    """Identity of a harvested asset: its type and ``(platform, platform_resource_identifier)``."""

    asset: str  # REST collection, e.g. "datasets"
    platform: str
    resource_id: str

    def __str__(self) -> str:
        return f"{self.platform}/{self.asset}/{self.resource_id}"


@dataclass
class Item:
    """One AIoD asset produced by a connector.

    ``refs`` holds the assets this one refers to by a REF field (creator, citation, ...):
    the engine writes them first and puts their identifiers in the field.
    """

    asset: str
    record: JSON
    refs: dict[str, list[Item]] = field(default_factory=dict)

    @property
    def key(self) -> Key:
        return Key(
            self.asset,
            str(self.record["platform"]),
            str(self.record["platform_resource_identifier"]),
        )


class MappingError(Exception):
    """The connector cannot map an upstream record; the message says why."""


class FetchError(Exception):
    """An upstream request failed (after retries)."""

    def __init__(self, url: str, status: int | None, message: str) -> None:
        super().__init__(f"{message} ({url})")
        self.url = url
        self.status = status


@dataclass
class RecordError:
    """Why one upstream record (or page) did not land."""

    record: str  # upstream identifier, or a page URL
    stage: str  # list | fetch | map | validate | write | delete | sweep
    message: str
    problems: list[JSON] = field(default_factory=list)

    def as_dict(self) -> JSON:
        out: JSON = {"record": self.record, "stage": self.stage, "message": self.message}
        if self.problems:
            out["problems"] = self.problems
        return out


@dataclass
class Page:
    """One upstream listing page, as a connector yields it.

    ``cursor`` is where a resumed run starts once this page is written (``None``: keep the
    previous cursor, e.g. for all but the last page of an OAI-PMH window).
    """

    entries: list[Any] = field(default_factory=list)
    cursor: JSON | None = None
    deletions: list[Key] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)
    total: int | None = None  # how many entries the whole listing has, when upstream says


class Connector(Protocol):
    """What the engine needs from a platform connector (see ``mappings.base``)."""

    @property
    def name(self) -> str:
        """``openml``, ``huggingface``, ``zenodo``, ``dcat``."""

    @property
    def source(self) -> str:
        """Identifies the upstream, e.g. ``openml https://www.openml.org/api/v1/json``."""

    @property
    def sweeps(self) -> bool:
        """Whether a run without ``since`` lists every live record of the source."""

    def pages(self, http: Http, cursor: JSON | None, since: datetime | None) -> Iterator[Page]:
        """The listing, from ``cursor`` (``None``: the start) and ``since`` (``None``: all)."""

    def entry_id(self, entry: Any) -> str:
        """A short upstream identifier of a list entry, for the report."""

    def entry_keys(self, entry: Any) -> list[Key]:
        """Keys the entry produces when it maps (kept alive when it fails to)."""

    def fetch(self, http: Http, entry: Any) -> Any:
        """Per-record details (runs in a thread pool); return ``entry`` when none are needed."""

    def map(self, raw: Any) -> list[Item]:
        """AIoD items of one record (``[]``: not an asset we keep). Raise ``MappingError``."""


# --------------------------------------------------------------------------- HTTP


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class Http:
    """GET with a timeout, retries with ``Retry-After`` or exponential backoff with jitter.

    Thread-safe (one ``httpx.Client``); counts requests, retries and time spent.
    """

    def __init__(
        self,
        timeout: float = 30.0,
        max_retries: int = 5,
        backoff: float = 1.0,
        backoff_max: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str = "aiod-kg-harvester/0.1 (+https://github.com/aiondemand)",
        concurrency: int = 4,
    ) -> None:
        limits = httpx.Limits(
            max_connections=concurrency + 2, max_keepalive_connections=concurrency + 2
        )
        self.client = httpx.Client(
            timeout=timeout,
            follow_redirects=True,
            limits=limits,
            headers={"User-Agent": user_agent},
        )
        self.max_retries = max_retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.sleep = sleep
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0
        self.seconds = 0.0

    @classmethod
    def from_settings(cls, settings: Settings, **kw: Any) -> Http:
        return cls(
            timeout=settings.harvest_timeout,
            max_retries=settings.harvest_max_retries,
            backoff=settings.harvest_backoff,
            backoff_max=settings.harvest_backoff_max,
            concurrency=settings.harvest_concurrency,
            **kw,
        )

    def close(self) -> None:
        self.client.close()

    def delay(self, attempt: int, response: httpx.Response | None) -> float:
        """How long to wait before retry number ``attempt + 1``."""
        if response is not None:
            told = parse_retry_after(response.headers.get("Retry-After"))
            if told is not None:
                return min(told, RETRY_AFTER_MAX)
        ceiling = min(self.backoff_max, self.backoff * (2**attempt))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # "equal jitter"

    def get(
        self,
        url: str,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        ok: Iterable[int] = (200,),
    ) -> httpx.Response:
        """The response when its status is in ``ok``; raises ``FetchError`` otherwise."""
        accepted = set(ok)
        attempt = 0
        while True:
            started = time.perf_counter()
            response: httpx.Response | None = None
            try:
                response = self.client.get(url, params=params, headers=headers)
                problem = f"HTTP {response.status_code}"
            except httpx.TransportError as exc:  # timeouts, refused/reset connections
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            with self._lock:
                self.requests += 1
                self.seconds += time.perf_counter() - started
            if response is not None:
                if response.status_code in accepted:
                    return response
                if response.status_code not in RETRY_STATUS:
                    raise FetchError(str(response.url), response.status_code, problem)
            status = response.status_code if response is not None else None
            if attempt >= self.max_retries:
                raise FetchError(url, status, f"{problem} after {attempt + 1} attempts")
            wait = self.delay(attempt, response)
            log.info("retrying %s in %.1f s (%s)", url, wait, problem)
            with self._lock:
                self.retries += 1
            self.sleep(wait)
            attempt += 1


# --------------------------------------------------------------------------- state


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
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(
            str(path) if path else ":memory:",
            timeout=30,
            isolation_level=None,
            check_same_thread=False,
        )
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
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
                        _now(),
                        run.started if full else None,
                        orjson.dumps(report),
                    ),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise


# --------------------------------------------------------------------------- report


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")


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


# --------------------------------------------------------------------------- engine


def content_hash(asset: str, record: JSON) -> str:
    body = orjson.dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.blake2b(asset.encode() + b"\0" + body, digest_size=16).hexdigest()


@dataclass
class _Fetched:
    page: Page
    raws: list[tuple[Any, Any | BaseException]]  # (entry, detail or the error)
    seconds: float


@dataclass
class _Mapped:
    """One page after mapping, waiting to be written with the rest of its batch."""

    primaries: list[tuple[str, Item]] = field(default_factory=list)  # (entry id, item)
    protected: set[Key] = field(default_factory=set)  # keys of records that failed
    deletions: list[Key] = field(default_factory=list)
    cursor: JSON | None = None


_END = object()


def _depth(item: Item, memo: dict[int, int]) -> int:
    if id(item) in memo:
        return memo[id(item)]
    memo[id(item)] = 0  # guards against reference cycles
    value = 1 + max((_depth(r, memo) for refs in item.refs.values() for r in refs), default=-1)
    memo[id(item)] = value
    return value


Since = datetime | Literal["auto"] | None


class Harvester:
    """Runs connectors against one catalog; one run per source at a time."""

    def __init__(
        self,
        catalog: Catalog,
        http: Http | None = None,
        state: HarvestState | None = None,
        progress: bool | None = None,
        progress_stream: TextIO | None = None,
    ) -> None:
        self.catalog = catalog
        self.settings = catalog.settings
        self._own_http = http is None
        self.http = http or Http.from_settings(self.settings)
        # beside the catalogue index (a local directory also when the store is remote)
        self.state = state or HarvestState(index_path(self.settings).parent / "harvest.sqlite")
        self.progress = progress
        self.progress_stream = progress_stream
        self._source_locks: dict[str, threading.Lock] = defaultdict(threading.Lock)

    def close(self) -> None:
        if self._own_http:
            self.http.close()
        self.state.close()

    # ------------------------------------------------------------------ entry point

    def resolve_since(self, connector: Connector, since: Since) -> datetime | None:
        """``auto``: incremental from the last completed run, full at least weekly."""
        if since != "auto":
            return since
        if not getattr(connector, "incremental", False):
            return None  # upstream cannot list by date: every run lists everything
        info = self.state.source(connector.source)
        if not info or not info["last_started"]:
            return None
        last_full = info["last_full_started"]
        if connector.sweeps and (
            last_full is None
            or datetime.fromisoformat(last_full).replace(tzinfo=UTC)
            < datetime.now(UTC) - FULL_RUN_EVERY
        ):
            return None
        return datetime.fromisoformat(info["last_started"]).replace(tzinfo=UTC) - AUTO_OVERLAP

    def run(
        self,
        connector: Connector,
        since: Since = None,
        limit: int | None = None,
        dry_run: bool = False,
    ) -> HarvestReport:
        with self._source_locks[connector.source]:
            return self._run(connector, self.resolve_since(connector, since), limit, dry_run)

    def _run(
        self, connector: Connector, since: datetime | None, limit: int | None, dry_run: bool
    ) -> HarvestReport:
        since_text = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") if since else None
        previous = None if dry_run else self.state.open_run(connector.source)
        if previous is not None and previous.since == since_text:
            run, resumed = previous, True
        else:
            run = OpenRun(uuid.uuid4().hex, _now(), since_text, None, 0)
            resumed = False
            if not dry_run:
                self.state.begin(connector.source, connector.name, run)
        report = HarvestReport(
            connector.name,
            connector.source,
            run.run_id,
            run.started,
            dry_run=dry_run,
            since=since_text,
            resumed=resumed,
        )
        timings_before = dict(getattr(self.catalog, "timings", {}))
        requests_before, retries_before = self.http.requests, self.http.retries
        wall = time.perf_counter()
        progress = Progress(connector.name, self.progress_stream, self.progress)
        seen = run.seen
        flags = {"limited": False}
        batch: list[_Mapped] = []
        batched = 0
        batch_size = max(1, self.settings.harvest_write_batch)
        try:
            for fetched in self._prefetch(connector, run.cursor, since, limit, report, flags):
                report.stages["fetch"] += fetched.seconds
                page = fetched.page
                if page.total is not None:
                    progress.total = page.total
                for error in page.errors:
                    report.error(error)
                seen += len(fetched.raws)
                mapped = self._map_page(connector, fetched, report)
                if dry_run:
                    self._dry_run(mapped.primaries, report)
                else:
                    batch.append(mapped)
                    batched += len(fetched.raws) + len(page.deletions)
                    if batched >= batch_size:
                        self._flush(connector, run, batch, report, seen)
                        batch, batched = [], 0
                progress.update(report.listed, report.error_count)
            else:
                report.completed = report.aborted is None and not flags["limited"]
            self._flush(connector, run, batch, report, seen)  # pages read before a stop, too
        finally:
            progress.close(report.listed, report.error_count)
        if report.completed and not dry_run and connector.sweeps and since is None:
            self._sweep(connector, run, report, seen)
        report.seconds = time.perf_counter() - wall
        report.requests = self.http.requests - requests_before
        report.retries = self.http.retries - retries_before
        timings = getattr(self.catalog, "timings", {})
        for name, stage in (("convert", "map"), ("validate", "validate"), ("write", "write")):
            report.stages[stage] += timings.get(name, 0.0) - timings_before.get(name, 0.0)
        report.finished = _now()
        if report.completed and not dry_run:
            self.state.finish(
                connector.source, connector.name, run, since is None, report.as_dict()
            )
        return report

    # ------------------------------------------------------------------ fetching

    def _prefetch(
        self,
        connector: Connector,
        cursor: JSON | None,
        since: datetime | None,
        limit: int | None,
        report: HarvestReport,
        flags: dict[str, bool],
    ) -> Iterator[_Fetched]:
        """Pages with their per-record details, fetched one page ahead in a thread."""
        out: queue.Queue[Any] = queue.Queue(maxsize=2)
        stop = threading.Event()
        workers = max(1, self.settings.harvest_concurrency)

        def produce() -> None:
            remaining = limit
            try:
                with ThreadPoolExecutor(workers, thread_name_prefix="harvest-fetch") as pool:
                    for page in connector.pages(self.http, cursor, since):
                        started = time.perf_counter()
                        if stop.is_set():
                            return
                        entries = page.entries
                        if remaining is not None and len(entries) >= remaining:
                            if len(entries) > remaining:
                                entries = entries[:remaining]
                                page.cursor = None  # the page is not finished
                            page.entries = entries
                            remaining = 0
                        elif remaining is not None:
                            remaining -= len(entries)
                        raws = list(pool.map(lambda e: self._fetch_one(connector, e), entries))
                        seconds = time.perf_counter() - started
                        out.put(_Fetched(page, list(zip(entries, raws, strict=True)), seconds))
                        if remaining == 0:
                            flags["limited"] = True
                            return
            except BaseException as exc:  # handed to the consumer (FetchError: run aborted)
                out.put(exc)
            finally:
                out.put(_END)

        thread = threading.Thread(target=produce, name=f"harvest-{connector.name}", daemon=True)
        thread.start()
        try:
            while True:
                got = out.get()
                if got is _END:
                    break
                if isinstance(got, FetchError):
                    report.aborted = str(got)
                    report.error(RecordError(got.url, "list", str(got)))
                    continue
                if isinstance(got, BaseException):
                    raise got
                yield got
        finally:
            stop.set()
            while thread.is_alive():  # unblock the producer if it waits on a full queue
                with contextlib.suppress(queue.Empty):
                    out.get(timeout=0.05)
            thread.join()

    def _fetch_one(self, connector: Connector, entry: Any) -> Any:
        try:
            return connector.fetch(self.http, entry)
        except Exception as exc:  # one record's failure never stops the run
            return exc

    # ------------------------------------------------------------------ writing

    def _map_page(self, connector: Connector, fetched: _Fetched, report: HarvestReport) -> _Mapped:
        page = fetched.page
        started = time.perf_counter()
        mapped = _Mapped(deletions=list(page.deletions), cursor=page.cursor)
        for entry, raw in fetched.raws:
            report.listed += 1
            entry_id = self._entry_id(connector, entry)
            if isinstance(raw, BaseException):
                stage = "fetch" if isinstance(raw, FetchError) else "map"
                report.error(RecordError(entry_id, stage, _describe(raw)))
                mapped.protected.update(self._safe_keys(connector, entry))
                continue
            try:
                items = connector.map(raw)
            except Exception as exc:
                report.error(RecordError(entry_id, "map", _describe(exc)))
                mapped.protected.update(self._safe_keys(connector, entry))
                continue
            if not items:
                report.skipped += 1
                continue
            mapped.primaries.extend((entry_id, item) for item in items)
        report.stages["map"] += time.perf_counter() - started
        return mapped

    def _flush(
        self,
        connector: Connector,
        run: OpenRun,
        batch: list[_Mapped],
        report: HarvestReport,
        seen: int,
    ) -> None:
        """Write the mapped pages of ``batch`` together, then commit their state at once.

        Oxigraph's bulk load costs ~50-180 ms per call whatever its size, so pages are
        written ``harvest_write_batch`` records at a time; the cursor saved is the last page's.
        """
        if not batch:
            return
        primaries = [p for mapped in batch for p in mapped.primaries]
        protected = set().union(*(mapped.protected for mapped in batch))
        written, touched, failed = self._write(connector, primaries, report)
        forgotten = self._delete([d for mapped in batch for d in mapped.deletions], report)
        cursor = next((m.cursor for m in reversed(batch) if m.cursor is not None), None)
        started = time.perf_counter()
        self.state.commit_page(
            connector.source,
            run.run_id,
            written,
            touched | protected | failed,
            forgotten,
            cursor,
            seen,
        )
        report.stages["write"] += time.perf_counter() - started

    @staticmethod
    def _entry_id(connector: Connector, entry: Any) -> str:
        try:
            return str(connector.entry_id(entry))
        except Exception:
            return repr(entry)[:80]

    @staticmethod
    def _safe_keys(connector: Connector, entry: Any) -> list[Key]:
        try:
            return list(connector.entry_keys(entry))
        except Exception:
            return []

    def _flatten(
        self, primaries: list[tuple[str, Item]]
    ) -> tuple[dict[Key, Item], dict[Key, str], dict[Key, int]]:
        """Unique items by key, the report label of each, and their write order (depth)."""
        items: dict[Key, Item] = {}
        labels: dict[Key, str] = {}
        depth: dict[Key, int] = {}
        memo: dict[int, int] = {}
        visited: set[int] = set()

        def visit(item: Item, label: str) -> None:
            if id(item) in visited:
                return
            visited.add(id(item))
            key = item.key
            if key not in items:
                items[key] = item
                labels[key] = label
            depth[key] = max(depth.get(key, 0), _depth(item, memo))
            for refs in item.refs.values():
                for ref in refs:
                    visit(ref, f"{label} -> {ref.key}")

        for entry_id, item in primaries:
            items[item.key] = item  # a primary record wins over the same key met as a reference
            labels[item.key] = entry_id
        for entry_id, item in primaries:
            visit(item, entry_id)
        return items, labels, depth

    def _resolved(self, item: Item, identifiers: dict[Key, str]) -> JSON:
        record = dict(item.record)
        asset = ASSET_TYPES[item.asset]
        for name, refs in item.refs.items():
            found = [identifiers[r.key] for r in refs if r.key in identifiers]
            found = list(dict.fromkeys(found))
            fld = asset.by_name.get(name)
            if fld is not None and not fld.many:
                record[name] = found[0] if found else None
            else:
                record[name] = found
        return record

    def _write(
        self, connector: Connector, primaries: list[tuple[str, Item]], report: HarvestReport
    ) -> tuple[dict[Key, tuple[Produced, bool]], set[Key], set[Key]]:
        items, labels, depth = self._flatten(primaries)
        primary_keys = {item.key for _, item in primaries}
        known = self.state.produced(connector.source, list(items))
        identifiers: dict[Key, str] = {}
        written: dict[Key, tuple[Produced, bool]] = {}
        touched: set[Key] = set()
        failed: set[Key] = set()
        index = self.catalog.index
        groups: dict[tuple[int, str], list[Key]] = defaultdict(list)
        for key in items:
            groups[(depth[key], key.asset)].append(key)
        for (_, asset_name), keys in sorted(groups.items()):
            asset = ASSET_TYPES[asset_name]
            started = time.perf_counter()
            todo: list[tuple[Key, JSON, str]] = []
            for key in keys:
                record = self._resolved(items[key], identifiers)
                digest = content_hash(asset_name, record)
                previous = known.get(key)
                # A related asset (a creator, a citation) that this source wrote before is kept
                # as it is: the same person met in several records with slightly different
                # details must not flip between them on every run. Primary records upsert.
                related_only = key not in primary_keys
                if previous is not None and (previous.hash == digest or related_only):
                    entry = index.find_platform(asset_name, key.platform, key.resource_id)
                    if (
                        entry is not None
                        and entry.identifier == previous.identifier
                        and entry.date_modified == previous.modified
                    ):
                        identifiers[key] = previous.identifier
                        touched.add(key)
                        report.add(asset_name, "unchanged")
                        continue
                todo.append((key, record, digest))
            report.stages["map"] += time.perf_counter() - started
            if not todo:
                continue
            results = self._save(asset, [r for _, r, _ in todo], report)
            started = time.perf_counter()
            for (key, _, digest), result in zip(todo, results, strict=True):
                if result.ok and result.identifier is not None:
                    identifiers[key] = result.identifier
                    entry = index.get(result.identifier)
                    modified = entry.date_modified if entry else ""
                    written[key] = (
                        Produced(result.identifier, digest, modified),
                        key in primary_keys,
                    )
                    report.add(asset_name, "created" if result.created else "updated")
                    continue
                report.add(asset_name, "failed")
                failed.add(key)
                if result.conflict:
                    message = f"conflicts with existing asset {result.conflict}"
                    report.error(RecordError(labels[key], "write", message))
                else:
                    problems = [p.as_dict() for p in result.problems]
                    message = "; ".join(
                        f"{p.field or '(record)'}: {p.message}" for p in result.problems[:5]
                    )
                    report.error(RecordError(labels[key], "validate", message, problems))
            report.stages["write"] += time.perf_counter() - started
        return written, touched, failed

    def _save(self, asset: AssetType, records: list[JSON], report: HarvestReport) -> list[Any]:
        batch = max(1, self.settings.import_batch_size)
        results: list[Any] = []
        timings = getattr(self.catalog, "timings", {})
        inside = sum(timings.values())
        started = time.perf_counter()
        for start in range(0, len(records), batch):
            results.extend(
                self.catalog.save_many(asset, records[start : start + batch], mode="upsert")
            )
        # save_many's stages are added from Catalog.timings; the rest (change listeners) here
        outside = (time.perf_counter() - started) - (sum(timings.values()) - inside)
        report.stages["write"] += max(0.0, outside) if timings else 0.0
        if not timings:
            report.stages["write"] += time.perf_counter() - started
        return results

    def _delete(self, deletions: Sequence[Key], report: HarvestReport) -> list[Key]:
        """Delete assets that upstream deleted; returns the keys to forget."""
        if not deletions:
            return []
        started = time.perf_counter()
        by_asset: dict[str, list[str]] = defaultdict(list)
        for key in deletions:
            if key.asset not in ASSET_TYPES:
                continue
            entry = self.catalog.index.find_platform(key.asset, key.platform, key.resource_id)
            if entry is not None:
                by_asset[key.asset].append(entry.identifier)
        for asset_name, identifiers in by_asset.items():
            self.catalog.delete_many(ASSET_TYPES[asset_name], identifiers)
            report.add(asset_name, "deleted", len(identifiers))
        report.stages["write"] += time.perf_counter() - started
        return list(deletions)

    def _sweep(self, connector: Connector, run: OpenRun, report: HarvestReport, seen: int) -> None:
        """After a complete listing: delete what the source produced before but not now."""
        stale = self.state.stale(connector.source, run.run_id)
        if not stale:
            report.swept = True
            return
        if seen == 0:
            report.error(
                RecordError(
                    connector.source, "sweep", "upstream listed nothing; deletions not propagated"
                )
            )
            return
        clean = report.error_count == 0
        gone = [key for key, _, primary in stale if primary or clean]
        self._delete(gone, report)
        self.state.commit_page(connector.source, run.run_id, {}, set(), gone, None, seen)
        report.swept = clean

    def _dry_run(self, primaries: list[tuple[str, Item]], report: HarvestReport) -> None:
        """Map and validate without writing (references get placeholder identifiers)."""
        items, labels, _ = self._flatten(primaries)
        placeholders = {key: f"{ASSET_TYPES[key.asset].prefix}_{'0' * 24}" for key in items}
        base = self.catalog.base_url
        started = time.perf_counter()
        conversions: list[tuple[Key, Any]] = []
        for key, item in items.items():
            asset = ASSET_TYPES[key.asset]
            iri = asset_iri(base, asset, placeholders[key])
            conversions.append(
                (
                    key,
                    asset_to_triples(
                        asset, self._resolved(item, placeholders), f"{iri}-{len(conversions)}", base
                    ),
                )
            )
        report.stages["map"] += time.perf_counter() - started
        started = time.perf_counter()
        problems = validate_conversions([c for _, c in conversions], engine=self.settings.validator)
        report.stages["validate"] += time.perf_counter() - started
        for key, conversion in conversions:
            found = problems.get(conversion.iri) or conversion.problems
            if found:
                report.add(key.asset, "failed")
                report.error(
                    RecordError(
                        labels[key],
                        "validate",
                        "; ".join(f"{p.field or '(record)'}: {p.message}" for p in found[:5]),
                        [p.as_dict() for p in found],
                    )
                )
            else:
                report.add(key.asset, "created")


def _describe(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, (MappingError, FetchError)):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --------------------------------------------------------------------------- scheduling


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
            log.info("%s", report.summary())
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
