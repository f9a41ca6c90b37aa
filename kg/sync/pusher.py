"""Push sync, node -> central: one run makes the central hold exactly the node's shared assets.

Shared: created on this node (platform ``aiod`` or none: not harvested from elsewhere),
published, and not marked local-only. Each goes to the central's AIoD REST API as
``platform = node_platform``, ``platform_resource_identifier = `` its node identifier, with the
``central_token``; references to assets the central already holds from this node become
their central identifiers (agents are pushed first), others are left out.

The outbox is the difference between the catalogue and ``kg.sync.state``: an asset whose
``date_modified`` moved and whose body changed is PUT (POST the first time, unless the central
already holds it: one listing ``GET /platforms/{platform}/{type}`` per type with assets not
in the state, so a run killed between a POST and its state row makes no duplicate), a pushed
asset that is no longer shared is DELETEd. Assets new to the central go in bulk creates
(``POST /bulk/{type}``, ``BULK`` records a request, ``sync_concurrency`` requests in flight)
when the central is an aiod-kg (api/routes/bulk.py); a central without that route (the AIoD
REST API answers 404/405) or that refuses it to this key (403) gets one ``POST /{type}`` per
asset for the rest of the run. Each push records its state row, so a run is idempotent and
resumable (rows are written in batches, kg/sync/state.py: a killed run's last batch is found
again by the listing). The assets of one type are pushed ``sync_concurrency``
at a time over as many keep-alive connections, types one after the other (agents first:
later bodies name their central identifiers), then withdrawals, as concurrently.
Requests go through the one outbound client (kg/outbound.py); transport errors, 429 and 5xx
are retried with exponential backoff, and when the central stays down the run stops: what
was not pushed is still different next run (nothing is lost). A 4xx is that asset's error.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES, Kind
from kg.outbound import Outbound, OutboundPolicy
from kg.sync.state import Pushed, SyncState, sync_lock, sync_state

AGENTS = ("persons", "organisations", "teams", "contacts")
NATIVE = (None, "", "aiod")
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
BUSY = "another sync run of this node is in progress"  # ``stopped`` of a skipped run
PAGE = 1000  # listing page asked of the central (it may answer with smaller pages)
BULK = 250  # new assets in one bulk create (an aiod-kg central: api/routes/bulk.py)
BULK_BYTES = 1 << 20  # and at most this many bytes of records in one request
NO_BULK = frozenset({404, 405, 501})  # the central has no bulk route (the AIoD API)


class CentralDown(Exception):
    """The central did not answer after the retries; the run stopped."""


@dataclass
class SyncReport:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    stopped: str | None = None  # why the run stopped early (the central was down)
    seconds: float = 0.0

    @property
    def pushed(self) -> int:
        return self.created + self.updated + self.deleted

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "deleted": self.deleted,
            "unchanged": self.unchanged,
            "errors": self.errors,
            "stopped": self.stopped,
            "seconds": round(self.seconds, 3),
        }


def _order(collection: str) -> int:
    return AGENTS.index(collection) if collection in AGENTS else len(AGENTS)


class Pusher:
    def __init__(
        self,
        catalog: Catalog,
        state: SyncState | None = None,
        outbound: Outbound | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        settings = catalog.settings
        if not (settings.central_url and settings.node_platform and settings.central_token):
            raise ValueError(
                "a node needs AIOD_KG_CENTRAL_URL, AIOD_KG_CENTRAL_TOKEN and AIOD_KG_NODE_PLATFORM"
            )
        self.catalog = catalog
        self.central = settings.central_url.rstrip("/")
        self.platform = settings.node_platform
        self.headers = {
            "Authorization": f"Bearer {settings.central_token.get_secret_value()}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self._own_state = state is None
        self.state = state or sync_state(settings)
        self._own_outbound = outbound is None
        self.concurrency = settings.sync_concurrency
        self.outbound = outbound or Outbound(  # one keep-alive connection per push in flight
            OutboundPolicy.from_settings(settings, read_timeout=settings.harvest_timeout),
            max_connections=max(self.concurrency, 2),
        )
        self.retries = settings.sync_max_retries
        self.backoff = settings.harvest_backoff
        self.backoff_max = settings.harvest_backoff_max
        self.sleep = sleep
        self._stop = threading.Event()  # set when the central is down: the run winds up
        self.bulk: bool | None = None  # whether the central takes bulk creates (None: unknown)
        self._tally_lock = threading.Lock()

    def close(self) -> None:
        if self._own_state:
            self.state.close()
        if self._own_outbound:
            self.outbound.close()

    # ------------------------------------------------------------------ the run

    def shared(self) -> list[tuple[str, str, str]]:
        """``(identifier, collection, date_modified)`` of every shared asset, agents first."""
        local_only = self.state.local_only()
        index = self.catalog.index
        out = []
        for identifier, collection, modified, status in index.modified():
            if status != "published" or identifier in local_only or collection not in ASSET_TYPES:
                continue
            entry = index.get(identifier)
            if entry is None or entry.platform not in NATIVE:
                continue
            out.append((identifier, collection, modified))
        out.sort(key=lambda row: (_order(row[1]), row[1]))
        return out

    def run(self) -> SyncReport:
        """One run, unless another holds the node's sync lock (then ``stopped`` says so)."""
        with sync_lock(self.catalog.settings) as mine:
            if not mine:
                return SyncReport(stopped=BUSY)
            return self._run()

    def _run(self) -> SyncReport:
        report = SyncReport()
        started = time.perf_counter()
        pushed = self.state.pushed()
        self._stop.clear()
        if self.bulk is False:  # asked again each run (the central or its key may have changed)
            self.bulk = None
        try:
            shared = self.shared()
            wanted = {identifier for identifier, _, _ in shared}
            with ThreadPoolExecutor(self.concurrency, thread_name_prefix="sync-push") as pool:
                for collection, rows in groupby(shared, key=lambda row: row[1]):
                    todo = []
                    for identifier, _, modified in rows:
                        before = pushed.get(identifier)
                        if before is not None and before.modified == modified:
                            report.unchanged += 1
                        else:
                            todo.append((identifier, modified, before))
                    if not todo:
                        continue
                    # what the central already holds from us (a run killed after a POST)
                    known = self._remote(collection) if any(b is None for *_, b in todo) else {}
                    fresh: list[tuple[str, str]] = []  # new to the central: bulk creates
                    if known is not None and self.bulk is not False:
                        fresh = [(i, m) for i, m, b in todo if b is None and i not in known]
                        todo = [t for t in todo if t[2] is not None or t[0] in known]
                    futures = [
                        pool.submit(
                            self._push,
                            identifier,
                            collection,
                            modified,
                            before,
                            pushed,
                            report,
                            known,
                        )
                        for identifier, modified, before in todo
                    ]
                    futures += [
                        pool.submit(
                            self._push_bulk, collection, fresh[at : at + BULK], pushed, report
                        )
                        for at in range(0, len(fresh), BULK)
                    ]
                    for future in futures:  # a collection is done before the next refers to it
                        future.result()
                gone = [(i, b) for i, b in list(pushed.items()) if i not in wanted]
                for future in [pool.submit(self._withdraw, i, b, report) for i, b in gone]:
                    future.result()
        except CentralDown as exc:
            self._stop.set()
            report.stopped = str(exc)
        finally:
            self.state.flush()
        report.seconds = time.perf_counter() - started
        return report

    def _remote(self, collection: str) -> dict[str, str] | None:
        """``{node identifier: central identifier}`` of every ``collection`` asset the central
        holds from this node, by paging ``/platforms/{platform}/{collection}``; None when the
        central does not list them (each is then looked up alone)."""
        known: dict[str, str] = {}
        base = f"{self.central}/platforms/{quote(self.platform, safe='')}/{collection}"
        offset = 0
        while True:
            response = self._call("GET", f"{base}?offset={offset}&limit={PAGE}", None)
            if response.status_code != 200:
                return None
            page = response.json()
            if not isinstance(page, list):
                return None
            for record in page:
                if isinstance(record, dict) and record.get("identifier"):
                    resource = record.get("platform_resource_identifier")
                    if resource:
                        known[str(resource)] = str(record["identifier"])
            if not page:
                return known
            offset += len(page)

    def _body(self, identifier: str, collection: str, pushed: dict[str, Pushed]) -> bytes:
        asset = ASSET_TYPES[collection]
        data = self.catalog.get(asset, identifier)
        body: dict[str, Any] = {}
        for fld in asset.fields:
            value = data.get(fld.name)
            if fld.server or fld.name == "aiod_entry" or value in (None, "", [], {}):
                continue
            if fld.kind is Kind.REF:  # the central's identifiers of what it holds from us
                ids = value if isinstance(value, list) else [value]
                remote = [pushed[i].remote_id for i in ids if i in pushed]
                if not remote:
                    continue
                value = remote if fld.many else remote[0]
            body[fld.name] = value
        body["platform"] = self.platform
        body["platform_resource_identifier"] = identifier
        return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)

    def _push(
        self,
        identifier: str,
        collection: str,
        modified: str,
        before: Pushed | None,
        pushed: dict[str, Pushed],
        report: SyncReport,
        known: dict[str, str] | None = None,
    ) -> None:
        if self._stop.is_set():  # another push found the central down
            return
        body = self._body(identifier, collection, pushed)
        digest = hashlib.blake2b(body, digest_size=16).hexdigest()
        if before is not None and before.hash == digest:
            self._tally(report, "unchanged")
            self._commit(identifier, Pushed(collection, before.remote_id, digest, modified), pushed)
            return
        if before is not None:
            remote_id: str | None = before.remote_id
        elif known is not None:
            remote_id = known.get(identifier)
        else:
            remote_id = self._find(collection, identifier)
        if remote_id is None:
            response = self._call("POST", f"{self.central}/{collection}", body)
            if response.status_code >= 300:
                self._fail(report, identifier, response)
                return
            remote_id = str(response.json()["identifier"])
            self._tally(report, "created")
        else:
            url = f"{self.central}/{collection}/{quote(remote_id, safe='')}"
            response = self._call("PUT", url, body)
            if response.status_code == 404:  # deleted on the central meanwhile: create again
                self.state.drop(identifier)
                pushed.pop(identifier, None)
                self._push(identifier, collection, modified, None, pushed, report)
                return
            if response.status_code >= 300:
                self._fail(report, identifier, response)
                return
            self._tally(report, "updated")
        self._commit(identifier, Pushed(collection, remote_id, digest, modified), pushed)

    def _push_bulk(
        self,
        collection: str,
        rows: list[tuple[str, str]],
        pushed: dict[str, Pushed],
        report: SyncReport,
    ) -> None:
        """Create ``(identifier, modified)`` assets the central does not hold yet, many per
        request (``POST {central}/bulk/{collection}``, at most ``BULK_BYTES`` a request); one
        by one (``_push``) when the central has no bulk route or refuses the request."""
        if self._stop.is_set():
            return
        batch: list[tuple[str, str, bytes]] = []
        size = 0
        for identifier, modified in rows:
            body = self._body(identifier, collection, pushed)
            if batch and size + len(body) > BULK_BYTES:
                self._send_bulk(collection, batch, pushed, report)
                batch, size = [], 0
            batch.append((identifier, modified, body))
            size += len(body) + 1
        if batch:
            self._send_bulk(collection, batch, pushed, report)

    def _send_bulk(
        self,
        collection: str,
        batch: list[tuple[str, str, bytes]],
        pushed: dict[str, Pushed],
        report: SyncReport,
    ) -> None:
        if self._stop.is_set():
            return
        answers: list[Any] | None = None
        if self.bulk is not False:
            content = b"[" + b",".join(body for *_, body in batch) + b"]"
            response = self._call("POST", f"{self.central}/bulk/{collection}", content)
            if response.status_code in NO_BULK or response.status_code == 403:
                # an AIoD REST API, or a key without bulk: one asset per request from now on
                self.bulk = False
            elif response.status_code == 200:
                self.bulk = True
                try:
                    answers = response.json()
                except ValueError:
                    answers = None
        if not isinstance(answers, list) or len(answers) != len(batch):
            # no bulk, refused or unreadable: one by one, each looked up first (an unreadable
            # answer may follow creates: the lookup finds them, nothing is made twice)
            for identifier, modified, _ in batch:
                self._push(identifier, collection, modified, None, pushed, report)
            return
        for (identifier, modified, body), answer in zip(batch, answers, strict=True):
            answer = answer if isinstance(answer, dict) else {}
            remote = answer.get("identifier")
            if remote:
                digest = hashlib.blake2b(body, digest_size=16).hexdigest()
                self._tally(report, "created")
                self._commit(identifier, Pushed(collection, str(remote), digest, modified), pushed)
            elif answer.get("status") == 409 and answer.get("existing"):
                # created meanwhile (another run): replace it as any known asset
                known = {identifier: str(answer["existing"])}
                self._push(identifier, collection, modified, None, pushed, report, known)
            else:
                detail = answer.get("detail", answer)
                with self._tally_lock:
                    report.errors.append(
                        {
                            "identifier": identifier,
                            "status": str(answer.get("status", "")),
                            "detail": orjson.dumps(detail).decode(),
                        }
                    )

    def _tally(self, report: SyncReport, outcome: str) -> None:
        with self._tally_lock:
            setattr(report, outcome, getattr(report, outcome) + 1)

    def _fail(self, report: SyncReport, identifier: str, response: httpx.Response) -> None:
        with self._tally_lock:
            report.errors.append(_error(identifier, response))

    def _commit(self, identifier: str, row: Pushed, pushed: dict[str, Pushed]) -> None:
        self.state.record(identifier, row)
        pushed[identifier] = row

    def _find(self, collection: str, identifier: str) -> str | None:
        """The central's identifier of what it already holds from us under ``identifier``."""
        url = (
            f"{self.central}/platforms/{quote(self.platform, safe='')}/{collection}/"
            f"{quote(identifier, safe='')}"
        )
        response = self._call("GET", url, None)
        if response.status_code == 200:
            found = response.json().get("identifier")
            return str(found) if found else None
        return None

    def _withdraw(self, identifier: str, before: Pushed, report: SyncReport) -> None:
        if self._stop.is_set():
            return
        url = f"{self.central}/{before.collection}/{quote(before.remote_id, safe='')}"
        response = self._call("DELETE", url, None)
        if response.status_code >= 300 and response.status_code != 404:
            self._fail(report, identifier, response)
            return
        self.state.drop(identifier)
        self._tally(report, "deleted")

    def _call(self, method: str, url: str, body: bytes | None) -> httpx.Response:
        attempt = 0
        while True:
            problem: str
            try:
                response = self.outbound.request(method, url, content=body, headers=self.headers)
                if response.status_code not in RETRY_STATUS:
                    return response
                problem = f"HTTP {response.status_code}"
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if attempt >= self.retries or self._stop.is_set():
                self._stop.set()
                raise CentralDown(f"{method} {url}: {problem} after {attempt + 1} attempts")
            ceiling = min(self.backoff_max, self.backoff * (2**attempt))
            self.sleep(ceiling / 2 + random.uniform(0, ceiling / 2))
            attempt += 1


def _error(identifier: str, response: httpx.Response) -> dict[str, str]:
    return {"identifier": identifier, "status": str(response.status_code), "detail": response.text}
