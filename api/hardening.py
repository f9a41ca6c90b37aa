"""Hardening: security headers, write rate limits, CORS allow-list, production start checks.

Write rate limits are token buckets per client: in memory for one process (``TokenBuckets``),
in the database when several processes or replicas serve one catalog
(``kg.access.rate_limits``, taken in one serialised transaction off the event loop).

(The request body size limit is ``api/limits.py``.)
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from urllib.parse import urlsplit

import anyio.to_thread
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth.tokens import split
from api.errors import send_envelope
from kg.access.rate_limits import SharedBuckets
from kg.settings import Settings

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# known non-secrets: a production server refuses to start with any of them as its admin key
DEFAULT_SECRETS = frozenset(
    {
        "admin",
        "changeme",
        "change-me",
        "secret",
        "password",
        "test",
        "test-admin-key",
        "aiod",
        "aiod-kg",
        "default",
    }
)
MIN_SECRET_LENGTH = 32


def production_problems(settings: Settings) -> list[str]:
    """Why this configuration must not serve in production (empty: it may)."""
    if not settings.production:
        return []
    problems = []
    key = settings.admin_key.get_secret_value() if settings.admin_key else ""
    if not key:
        problems.append("AIOD_KG_ADMIN_KEY is missing.")
    elif key.lower() in DEFAULT_SECRETS or len(key) < MIN_SECRET_LENGTH:
        problems.append(
            f"AIOD_KG_ADMIN_KEY is a default or shorter than {MIN_SECRET_LENGTH} characters."
        )
    if settings.oidc_issuer and not split(settings.oidc_audience):
        problems.append(
            "AIOD_KG_OIDC_AUDIENCE is missing: tokens issued for other clients would be accepted."
        )
    if settings.oidc_issuer and not settings.oidc_issuer.startswith("https://"):
        problems.append("AIOD_KG_OIDC_ISSUER must be an https:// URL.")
    if "*" in split(settings.cors_origins):
        problems.append("AIOD_KG_CORS_ORIGINS='*' is not allowed in production.")
    return problems


class SecurityHeaders:
    """Adds the security headers to every HTTP response (existing ones are kept)."""

    def __init__(self, app: ASGIApp, hsts: bool = False) -> None:
        self.app = app
        self.headers: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        ]
        if hsts:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))
        self.names = frozenset(name for name, _ in self.headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present: set[bytes] = set()
                content_type = b""
                for name, value in headers:  # one pass (every response comes through here)
                    name = name.lower()
                    present.add(name)
                    if name == b"content-type" and not content_type:  # the first
                        content_type = value
                if present.isdisjoint(self.names):
                    headers += self.headers
                else:
                    headers += [(n, v) for n, v in self.headers if n not in present]
                if b"content-security-policy" not in present:
                    # HTML (landing pages, the docs, the SPARQL editor) may frame nothing and
                    # be framed by nothing; data responses may load nothing at all
                    csp = (
                        b"frame-ancestors 'none'"
                        if content_type.startswith(b"text/html")
                        else b"default-src 'none'; frame-ancestors 'none'"
                    )
                    headers.append((b"content-security-policy", csp))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class TokenBuckets:
    """Per-client token buckets: ``limit`` writes per ``window`` seconds, refilled smoothly."""

    def __init__(self, limit: int, window: float, max_clients: int = 100_000) -> None:
        self.limit = limit
        self.rate = limit / window
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """0 if the write may go ahead, else the seconds until it may."""
        now = time.monotonic()
        with self._lock:
            tokens, stamp = self._buckets.get(client, (float(self.limit), now))
            tokens = min(float(self.limit), tokens + (now - stamp) * self.rate)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                if len(self._buckets) > self.max_clients:  # forget the fullest buckets
                    for key in [k for k, (t, _) in self._buckets.items() if t >= self.limit - 1]:
                        del self._buckets[key]
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1 - tokens) / self.rate


class WriteRateLimit:
    """429 (error envelope, ``Retry-After``) for clients over the write rate. A client is its
    credential (a hash of the bearer token) or, without one, its address. The bootstrap admin
    key is not limited (imports and CI); SPARQL queries sent by POST are reads."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        window: float,
        admin_key: str = "",
        shared: SharedBuckets | None = None,
    ) -> None:
        self.app = app
        self.buckets = TokenBuckets(limit, window)
        self.shared = shared  # the database's buckets: one limit across processes
        self.admin_key = admin_key.encode()

    def _client(self, scope: Scope) -> str | None:
        authorization = b""
        content_type = b""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                authorization = value
            elif name == b"content-type":
                content_type = value
        if scope.get("path") == "/sparql" and b"sparql-update" not in content_type:
            return None  # a query (a form with update= is admin-only anyway)
        token = authorization.partition(b" ")[2].strip()
        if token and self.admin_key and token == self.admin_key:
            return None
        if token:
            return "t:" + hashlib.sha256(token).hexdigest()
        client = scope.get("client")
        return "a:" + (client[0] if client else "?")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        client = self._client(scope)
        wait = 0.0
        if client is not None and self.shared is not None:  # one transaction, off the loop
            wait = await anyio.to_thread.run_sync(self.shared.take, client)
        elif client is not None:
            wait = self.buckets.take(client)
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry = str(max(1, math.ceil(wait)))
        detail = (
            f"Too many writes: at most {self.buckets.limit} per "
            f"{self.buckets.limit / self.buckets.rate:g} s. Retry after {retry} s."
        )
        await send_envelope(send, 429, detail, {"Retry-After": retry})


def shared_rate_limit(settings: Settings) -> bool:
    """Whether the write buckets live in the database (``kg.access.rate_limits``): when other
    processes serve the same catalog (AIOD_KG_DATABASE, or --workers above 1); else in memory."""
    return settings.database is not None or settings.workers > 1


def install(app: FastAPI, settings: Settings) -> None:
    """Add the hardening middleware (call after the other middleware: it wraps them)."""
    if settings.write_rate_limit > 0:
        key = settings.admin_key.get_secret_value() if settings.admin_key else ""
        app.add_middleware(
            WriteRateLimit,
            limit=settings.write_rate_limit,
            window=settings.write_rate_window,
            admin_key=key,
            shared=SharedBuckets.from_settings(settings) if shared_rate_limit(settings) else None,
        )
    origins = split(settings.cors_origins)
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Accept",
                "If-None-Match",
                "If-Modified-Since",
            ],
            expose_headers=["ETag", "Link", "Location", "Retry-After", "WWW-Authenticate"],
            allow_credentials=False,  # bearer tokens, never cookies
            max_age=600,
        )
    https = urlsplit(settings.base_url).scheme == "https"
    app.add_middleware(SecurityHeaders, hsts=https)
