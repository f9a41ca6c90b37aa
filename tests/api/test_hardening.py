"""Hardening: security headers, CORS allow-list, write rate limits, production start checks."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import TypedDict

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.hardening import TokenBuckets, production_problems
from kg.catalog import Catalog
from kg.settings import Settings
from tests.support.auth import Issuer, auth_client, auth_settings
from tests.support.data import ADMIN_KEY, AUTH, REPO

STRONG = "k" * 16 + "7Hq2-strong-admin-key-0123456789"


class _ProductionBase(TypedDict):
    """The settings every production-mode case below shares (typed for the Settings call)."""

    store: str
    production: bool
    search_enabled: bool


def test_security_headers(client: TestClient) -> None:
    for path, html in (("/counts", False), ("/", True), ("/docs", True), ("/sparql", False)):
        response = client.get(path, headers={"Accept": "text/html"} if html else {})
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "strict-transport-security" not in headers  # http base URL
    missing = client.get("/datasets/data_AAAAAAAAAAAAAAAAAAAAAAAA")
    assert missing.headers["x-content-type-options"] == "nosniff"
    assert missing.headers["content-security-policy"].startswith("default-src 'none'")


def test_hsts_for_an_https_base_url(tmp_path: Path) -> None:
    settings = Settings(
        store=str(tmp_path / "s"), base_url="https://kg.example.org", search_enabled=False
    )
    catalog = Catalog(settings)
    try:
        with TestClient(create_app(settings, catalog)) as c:
            assert "max-age" in c.get("/health").headers["strict-transport-security"]
    finally:
        catalog.close()


def test_cors_allow_list(tmp_path: Path) -> None:
    settings = Settings(
        store=str(tmp_path / "s"),
        admin_key=ADMIN_KEY,
        search_enabled=False,
        cors_origins="https://aiod.eu, https://portal.example.org",
    )
    catalog = Catalog(settings)
    try:
        with TestClient(create_app(settings, catalog)) as c:
            ok = c.get("/counts", headers={"Origin": "https://aiod.eu"})
            assert ok.headers["access-control-allow-origin"] == "https://aiod.eu"
            assert "access-control-allow-credentials" not in ok.headers
            evil = c.get("/counts", headers={"Origin": "https://evil.example.com"})
            assert "access-control-allow-origin" not in evil.headers
            preflight = c.options(
                "/datasets",
                headers={
                    "Origin": "https://portal.example.org",
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "authorization, content-type",
                },
            )
            assert preflight.status_code == 200
            assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
            denied = c.options(
                "/datasets",
                headers={
                    "Origin": "https://evil.example.com",
                    "Access-Control-Request-Method": "POST",
                },
            )
            assert denied.status_code == 400
    finally:
        catalog.close()


def test_no_cors_headers_by_default(client: TestClient) -> None:
    assert (
        "access-control-allow-origin"
        not in client.get("/counts", headers={"Origin": "https://aiod.eu"}).headers
    )


def test_write_rate_limit(tmp_path: Path) -> None:
    issuer = Issuer()
    try:
        settings = auth_settings(
            tmp_path, issuer, search_enabled=False, write_rate_limit=3, write_rate_window=3600
        )
        with auth_client(settings) as (c, _):
            alice = issuer.headers("alice", ["edit_aiod_resources"])
            bob = issuer.headers("bob", ["edit_aiod_resources"])
            for n in range(3):
                assert c.post("/datasets", json={"name": f"d{n}"}, headers=alice).status_code == 200
            limited = c.post("/datasets", json={"name": "one too many"}, headers=alice)
            assert limited.status_code == 429
            assert int(limited.headers["retry-after"]) >= 1
            body = limited.json()
            assert set(body) == {"detail", "reference"} and "Too many writes" in body["detail"]
            assert c.get("/datasets", headers=alice).status_code == 200  # reads are not limited
            assert c.post("/datasets", json={"name": "b"}, headers=bob).status_code == 200
            query = {"Content-Type": "application/sparql-query"}
            for _ in range(5):  # SPARQL queries by POST are reads
                assert (
                    c.post("/sparql", content="ASK {}", headers={**query, **alice}).status_code
                    == 200
                )
            for n in range(10):  # the bootstrap admin key (imports, CI) is not limited
                assert c.post("/datasets", json={"name": f"a{n}"}, headers=AUTH).status_code == 200
            for _ in range(3):  # anonymous writes count per address
                c.post("/datasets", json={"name": "x"})
            assert c.post("/datasets", json={"name": "x"}).status_code == 429
    finally:
        issuer.close()


def test_token_buckets_refill() -> None:
    buckets = TokenBuckets(limit=2, window=0.2)
    assert buckets.take("a") == 0 and buckets.take("a") == 0
    wait = buckets.take("a")
    assert 0 < wait <= 0.2
    assert buckets.take("b") == 0


def test_production_mode_refuses_default_or_missing_secrets(tmp_path: Path) -> None:
    base: _ProductionBase = {
        "store": str(tmp_path / "s"),
        "production": True,
        "search_enabled": False,
    }
    assert production_problems(Settings(**base, admin_key=STRONG)) == []
    assert production_problems(Settings(store=str(tmp_path / "s"))) == []  # not production
    for key in (None, "", "changeme", "test-admin-key", "short-key"):
        problems = production_problems(Settings(**base, admin_key=key))
        assert problems and "AIOD_KG_ADMIN_KEY" in problems[0], key
        with pytest.raises(RuntimeError, match="production"):
            create_app(Settings(**base, admin_key=key))
    oidc = production_problems(
        Settings(**base, admin_key=STRONG, oidc_issuer="https://auth.example.org/realms/aiod")
    )
    assert any("AUDIENCE" in p for p in oidc)
    assert (
        production_problems(
            Settings(
                **base,
                admin_key=STRONG,
                oidc_audience="aiod-api",
                oidc_issuer="https://auth.example.org/realms/aiod",
            )
        )
        == []
    )
    assert production_problems(Settings(**base, admin_key=STRONG, cors_origins="*"))


def test_serve_refuses_to_start_in_production_with_a_default_key(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AIOD_KG_PRODUCTION": "true",
        "AIOD_KG_ADMIN_KEY": "changeme",
        "AIOD_KG_STORE": str(tmp_path / "store"),
        "AIOD_KG_SEARCH_ENABLED": "false",
    }
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "serve", "--port", "1"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "refusing to start in production mode" in done.stderr
    assert "AIOD_KG_ADMIN_KEY" in done.stderr


def test_body_size_limit_still_applies_to_token_holders(tmp_path: Path) -> None:
    issuer = Issuer()
    try:
        settings = auth_settings(tmp_path, issuer, search_enabled=False, max_body_bytes=2048)
        with auth_client(settings) as (c, _):
            big = {"name": "x" * 4096}
            response = c.post(
                "/datasets", json=big, headers=issuer.headers("alice", ["edit_aiod_resources"])
            )
            assert response.status_code == 413
    finally:
        issuer.close()


def test_413_and_429_come_in_the_envelope_with_the_reference_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aiod_kg.api")
    settings = Settings(
        store=str(tmp_path / "s"),
        admin_key=ADMIN_KEY,
        search_enabled=False,
        max_body_bytes=2048,
        write_rate_limit=2,
        write_rate_window=3600,
    )
    catalog = Catalog(settings)
    try:
        with TestClient(create_app(settings, catalog)) as c:
            too_big = c.post("/datasets", json={"name": "x" * 4096})
            assert too_big.status_code == 413
            # anonymous writes count per address; the refused body counted as the first
            assert c.post("/datasets", json={"name": "x"}).status_code == 401
            limited = c.post("/datasets", json={"name": "x"})
            assert limited.status_code == 429
            assert int(limited.headers["retry-after"]) >= 1
            for response, status in ((too_big, 413), (limited, 429)):
                body = response.json()
                assert set(body) == {"detail", "reference"} and body["detail"]
                assert response.headers["content-type"] == "application/json"
                assert response.headers["x-content-type-options"] == "nosniff"
                logged = [
                    r.getMessage() for r in caplog.records if body["reference"] in r.getMessage()
                ]
                assert logged and logged[0].startswith(f"error {status} "), logged
    finally:
        catalog.close()


def test_security_headers_keep_what_a_response_sets() -> None:
    """SecurityHeaders adds only the headers a response lacks (names in any case) and picks
    the CSP by the response's content type."""
    import asyncio

    from starlette.types import Message, Receive, Scope, Send

    from api.hardening import SecurityHeaders

    async def page(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"Content-Type", b"text/html; charset=utf-8"),
            (b"X-Frame-Options", b"SAMEORIGIN"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"<p>hi</p>"})

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    asyncio.run(SecurityHeaders(page)({"type": "http", "method": "GET"}, receive, send))
    headers = sent[0]["headers"]
    names = [name.lower() for name, _ in headers]
    assert len(names) == len(set(names))  # nothing twice
    assert dict(headers)[b"X-Frame-Options"] == b"SAMEORIGIN"  # the response's own value
    assert dict(headers)[b"x-content-type-options"] == b"nosniff"
    assert dict(headers)[b"content-security-policy"] == b"frame-ancestors 'none'"  # HTML
    assert sent[1]["body"] == b"<p>hi</p>"
