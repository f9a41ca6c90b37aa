"""The harvest engine: runs one connector and keeps the catalog in step with its upstream.

The engine knows no platform. A connector (``mappings/<platform>.py``) lists upstream
records page by page, fetches per-record details and maps them to AIoD JSON ``Item`` s;
the engine does everything else, the same way for every platform:

* persisted state (``kg.harvest.state``, the database ``harvest``: ``harvest.sqlite`` beside
  the store or ``AIOD_KG_DATABASE``): the open run of each source with its cursor, and every
  record the source produced (asset key, identifier, content hash), committed in one
  transaction after each page's writes, so a run killed at any point resumes from its last
  written page and reaches the same final state;
* one run per source across replicas: a run holds its source's lease (``kg.harvest.lease``);
  a run that finds another holder returns at once with a report saying who;
* HTTP with timeouts, retries of 429/5xx and transport errors honouring ``Retry-After``,
  else exponential backoff with jitter (``kg.harvest.http.Http``);
* idempotent upserts keyed by ``(platform, platform_resource_identifier)`` through
  ``Catalog.save_many(mode="upsert")``; a record whose mapped content did not change is not
  rewritten (so a second harvest changes nothing, not even ``date_modified``);
* related assets (a dataset's creators, citations) written first, references filled in with
  their identifiers (``kg.harvest.items``);
* deletions: explicit ones from the connector (OAI-PMH ``deleted`` headers, deactivated
  datasets) and, after a run that listed everything, records the source produced before but
  no longer lists (``Catalog.delete_many`` keeps a tombstone) unless another source still
  yields them (one asset reached through two routes: a node's push and a harvest of it);
* a per-record error list in the report instead of an abort; a progress bar on a terminal.

Fetching and mapping run one page ahead in a background thread (``kg.harvest.prefetch``:
per-record requests in a small thread pool; ``map`` in that thread, in order), so upstream
latency and the connector's mapping overlap with the conversion, validation and writing of
the page before (the writer thread is the critical path: mapping was 28% of its time).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TextIO

import orjson

from kg.catalog import Catalog
from kg.harvest.contract import JSON, Connector, Item, Key, MappingError, RecordError
from kg.harvest.http import FetchError, Http
from kg.harvest.items import flatten, resolved
from kg.harvest.lease import Lease, holder_id
from kg.harvest.prefetch import Fetched, map_one, prefetch
from kg.harvest.report import HarvestReport, Progress
from kg.harvest.state import HarvestState, LeaseLost, OpenRun, Produced, now_text
from kg.model.fields import ASSET_TYPES, AssetType
from kg.model.rdf_mapping import asset_iri, asset_to_triples
from kg.model.validation import validate_conversions
from kg.platform_records import add_platform_records

log = logging.getLogger("aiod_kg.harvest")

FULL_RUN_EVERY = timedelta(days=7)  # "auto" runs list everything at least this often
AUTO_OVERLAP = timedelta(hours=1)  # "auto" incremental runs start this long before the last


def content_hash(asset: str, record: JSON) -> str:
    body = orjson.dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.blake2b(asset.encode() + b"\0" + body, digest_size=16).hexdigest()


@dataclass
class _Mapped:
    """One page after mapping, waiting to be written with the rest of its batch."""

    primaries: list[tuple[str, Item]] = field(default_factory=list)  # (entry id, item)
    protected: set[Key] = field(default_factory=set)  # keys of records that failed
    deletions: list[Key] = field(default_factory=list)
    cursor: JSON | None = None


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
        # beside the catalogue index (a local directory also when the store is remote), or
        # in AIOD_KG_DATABASE
        self.state = state or HarvestState.from_settings(self.settings)
        self.holder = holder_id()  # this harvester's name on the leases it takes
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
            if dry_run:  # writes nothing: needs no lease
                return self._run(connector, self.resolve_since(connector, since), limit, True)
            seconds = self.settings.harvest_lease_seconds
            with Lease(self.state, connector.source, self.holder, seconds) as lease:
                if not lease.held:  # another replica (or process) harvests the source
                    other = lease.other.describe() if lease.other else "another holder"
                    return HarvestReport.not_run(connector.name, connector.source, other)
                return self._run(
                    connector, self.resolve_since(connector, since), limit, False, lease
                )

    def _run(
        self,
        connector: Connector,
        since: datetime | None,
        limit: int | None,
        dry_run: bool,
        lease: Lease | None = None,
    ) -> HarvestReport:
        since_text = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") if since else None
        previous = None if dry_run else self.state.open_run(connector.source)
        if previous is not None and previous.since == since_text:
            run, resumed = previous, True
        else:
            run = OpenRun(uuid.uuid4().hex, now_text(), since_text, None, 0)
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
        platforms: set[str] = set()  # the platforms of the assets written
        try:
            for fetched in prefetch(
                connector,
                self.http,
                self.settings.harvest_concurrency,
                run.cursor,
                since,
                limit,
                report,
                flags,
            ):
                report.stages["fetch"] += fetched.seconds
                page = fetched.page
                if page.total is not None:
                    progress.total = page.total
                for error in page.errors:
                    report.error(error)
                seen += len(fetched.raws)
                mapped = self._map_page(connector, fetched, report)
                if lease is not None and lease.lost.is_set():
                    raise LeaseLost(f"the harvest lease of {connector.source} was taken over")
                if dry_run:
                    self._dry_run(mapped.primaries, report)
                else:
                    batch.append(mapped)
                    batched += len(fetched.raws) + len(page.deletions)
                    if batched >= batch_size:
                        platforms |= self._flush(connector, run, batch, report, seen)
                        batch, batched = [], 0
                progress.update(report.listed, report.error_count)
            else:
                report.completed = report.aborted is None and not flags["limited"]
            # pages read before a stop, too
            platforms |= self._flush(connector, run, batch, report, seen)
        except LeaseLost as lost:  # another replica runs the source now: stop, write nothing
            report.aborted, report.completed = str(lost), False
        finally:
            progress.close(report.listed, report.error_count)
        self._record_platforms(platforms)
        try:
            if report.completed and not dry_run and connector.sweeps and since is None:
                self._sweep(connector, run, report, seen)
        except LeaseLost as lost:
            report.aborted, report.completed = str(lost), False
        report.seconds = time.perf_counter() - wall
        report.requests = self.http.requests - requests_before
        report.retries = self.http.retries - retries_before
        timings = getattr(self.catalog, "timings", {})
        for name, stage in (("convert", "map"), ("validate", "validate"), ("write", "write")):
            report.stages[stage] += timings.get(name, 0.0) - timings_before.get(name, 0.0)
        report.finished = now_text()
        if report.completed and not dry_run:
            try:
                self.state.finish(
                    connector.source, connector.name, run, since is None, report.as_dict()
                )
            except LeaseLost as lost:
                report.aborted, report.completed = str(lost), False
        return report

    # ------------------------------------------------------------------ fetching

    # ------------------------------------------------------------------ writing

    def _map_page(self, connector: Connector, fetched: Fetched, report: HarvestReport) -> _Mapped:
        page = fetched.page
        started = time.perf_counter()
        mapped = _Mapped(deletions=list(page.deletions), cursor=page.cursor)
        results = fetched.items
        if results is None:  # not mapped by the fetching thread
            results = [map_one(connector, raw) for _, raw in fetched.raws]
        for (entry, raw), result in zip(fetched.raws, results, strict=True):
            report.listed += 1
            entry_id = self._entry_id(connector, entry)
            if isinstance(raw, BaseException):
                stage = "fetch" if isinstance(raw, FetchError) else "map"
                report.error(RecordError(entry_id, stage, _describe(raw)))
                mapped.protected.update(self._safe_keys(connector, entry))
                continue
            if isinstance(result, BaseException):
                report.error(RecordError(entry_id, "map", _describe(result)))
                mapped.protected.update(self._safe_keys(connector, entry))
                continue
            items = result
            if not items:
                report.skipped += 1
                continue
            mapped.primaries.extend((entry_id, item) for item in items)
        report.stages["map"] += time.perf_counter() - started + fetched.map_seconds
        return mapped

    def _flush(
        self,
        connector: Connector,
        run: OpenRun,
        batch: list[_Mapped],
        report: HarvestReport,
        seen: int,
    ) -> set[str]:
        """Write the mapped pages of ``batch`` together, then commit their state at once; the
        platforms of the assets written.

        Oxigraph's bulk load costs ~50-180 ms per call whatever its size, so pages are
        written ``harvest_write_batch`` records at a time; the cursor saved is the last page's.
        """
        if not batch:
            return set()
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
        return {key.platform for key in written}

    def _record_platforms(self, platforms: set[str]) -> None:
        """A platform record for each platform of the run's assets that has none yet (as the
        AIoD REST API's platform table); a failure here is logged and costs the run nothing."""
        if not platforms:
            return
        try:
            added = add_platform_records(self.catalog, platforms)
        except Exception:  # the assets are written: the records are made on a later run
            log.warning("could not record the platforms %s", sorted(platforms), exc_info=True)
            return
        if added:
            log.info("platform records made for %s", ", ".join(added))

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

    def _write(
        self, connector: Connector, primaries: list[tuple[str, Item]], report: HarvestReport
    ) -> tuple[dict[Key, tuple[Produced, bool]], set[Key], set[Key]]:
        items, labels, depth = flatten(primaries)
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
                record = resolved(items[key], identifiers)
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
        # what another source still yields stays: this source only stops producing it
        shared = self.state.also_produced(connector.source, gone)
        self.state.forget(connector.source, shared)
        gone = [key for key in gone if key not in shared]
        self._delete(gone, report)
        self.state.commit_page(connector.source, run.run_id, {}, set(), gone, None, seen)
        report.swept = clean

    def _dry_run(self, primaries: list[tuple[str, Item]], report: HarvestReport) -> None:
        """Map and validate without writing (references get placeholder identifiers)."""
        items, labels, _ = flatten(primaries)
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
                        asset, resolved(item, placeholders), f"{iri}-{len(conversions)}", base
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
