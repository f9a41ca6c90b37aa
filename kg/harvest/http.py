"""Outbound HTTP for connectors: ``Http`` is a GET with retries over ``kg.outbound.Outbound``.

Retries 408/425/429/5xx and transport errors (timeouts, refused or reset connections),
honouring ``Retry-After`` (capped), else exponential backoff with equal jitter. What the
policy refuses (host not allowed, link-local address, a response too large) is not retried.
Counts requests, retries and time spent, for the harvest report.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC
from typing import Any

import httpx

from kg.outbound import Outbound, OutboundError, OutboundPolicy
from kg.settings import Settings

log = logging.getLogger("aiod_kg.harvest")

RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
RETRY_AFTER_MAX = 900.0  # never wait longer than this for one Retry-After


class FetchError(Exception):
    """An upstream request failed (after retries)."""

    def __init__(self, url: str, status: int | None, message: str) -> None:
        super().__init__(f"{message} ({url})")
        self.url = url
        self.status = status


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
    """GET with retries (``Retry-After`` or exponential backoff with jitter) over the outbound
    client, whose policy (timeouts, allowed hosts and addresses, size cap, redirects) applies.

    Thread-safe (one pooled client); counts requests, retries and time spent.
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
        policy: OutboundPolicy | None = None,
    ) -> None:
        if policy is None:
            policy = OutboundPolicy(read_timeout=timeout, connect_timeout=min(5.0, timeout))
        self.outbound = Outbound(policy, user_agent=user_agent, max_connections=concurrency + 2)
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
            policy=OutboundPolicy.from_settings(settings, read_timeout=settings.harvest_timeout),
            **kw,
        )

    def close(self) -> None:
        self.outbound.close()

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
                response = self.outbound.get(url, params=params, headers=headers)
                problem = f"HTTP {response.status_code}"
            except OutboundError as exc:  # refused by the policy: retrying cannot help
                with self._lock:
                    self.requests += 1
                    self.seconds += time.perf_counter() - started
                raise FetchError(exc.url, None, str(exc)) from exc
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
