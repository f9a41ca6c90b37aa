"""Fetching one page ahead: a thread lists the connector's pages, fetches each record's
details in a small thread pool and maps them (``Connector.map``, in order, one call at a
time), while the harvest engine converts, validates and writes the page before."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kg.harvest.contract import JSON, Connector, Item, Page, RecordError
from kg.harvest.http import FetchError, Http
from kg.harvest.report import HarvestReport


@dataclass
class Fetched:
    page: Page
    raws: list[tuple[Any, Any | BaseException]]  # (entry, detail or the error)
    seconds: float
    # the connector's ``map`` of each raw detail (items or the error), computed in the
    # fetching thread, so that mapping overlaps with the writes of the page before
    items: list[list[Item] | BaseException] | None = None
    map_seconds: float = 0.0


_END = object()


def fetch_one(connector: Connector, http: Http, entry: Any) -> Any:
    """A record's details, or the exception that stopped them."""
    try:
        return connector.fetch(http, entry)
    except Exception as exc:  # one record's failure never stops the run
        return exc


def map_one(connector: Connector, raw: Any) -> list[Item] | BaseException:
    """A record's items, or the exception of its fetch or of its mapping."""
    if isinstance(raw, BaseException):
        return raw  # the fetch failed: reported as such by the engine
    try:
        return connector.map(raw)
    except Exception as exc:  # a mapping error of this record only
        return exc


def prefetch(
    connector: Connector,
    http: Http,
    workers: int,
    cursor: JSON | None,
    since: datetime | None,
    limit: int | None,
    report: HarvestReport,
    flags: dict[str, bool],
) -> Iterator[Fetched]:
    """Pages with their per-record details, fetched one page ahead in a thread; at most
    ``limit`` records (``flags["limited"]`` set when that stopped the listing). A listing
    that fails (``FetchError``) aborts the run in ``report``; any other error is raised."""
    out: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def produce() -> None:
        remaining = limit
        try:
            with ThreadPoolExecutor(max(1, workers), thread_name_prefix="harvest-fetch") as pool:
                for page in connector.pages(http, cursor, since):
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
                    raws = list(pool.map(lambda e: fetch_one(connector, http, e), entries))
                    fetched = Fetched(page, list(zip(entries, raws, strict=True)), 0.0)
                    mapping = time.perf_counter()  # in order, one call at a time
                    fetched.items = [map_one(connector, raw) for raw in raws]
                    fetched.seconds, fetched.map_seconds = (
                        mapping - started,
                        time.perf_counter() - mapping,
                    )
                    out.put(fetched)
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
