"""Test support for authentication: a token issuer on loopback (discovery + JWKS over real HTTP,
tokens signed with joserfc) and an app wired to it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from api.app import create_app
from kg.catalog import Catalog
from kg.settings import Settings
from tests.support.data import ADMIN_KEY

AUDIENCE = "urn:aiod-kg"


class Issuer:
    """An OIDC issuer: ``/.well-known/openid-configuration`` and ``/jwks`` on a free port."""

    def __init__(self) -> None:
        self.keys: list[RSAKey] = [self.new_key("key-1")]
        self.jwks_requests = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body: Mapping[str, object]
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": issuer.url + "/jwks"}
                elif self.path == "/jwks":
                    issuer.jwks_requests += 1
                    body = KeySet(list(issuer.keys)).as_dict(private=False)
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def new_key(kid: str) -> RSAKey:
        return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})

    def rotate(self, kid: str) -> RSAKey:
        """A new signing key; the old ones are retired (no longer published)."""
        key = self.new_key(kid)
        self.keys = [key]
        return key

    def claims(
        self,
        subject: str,
        roles: list[str] | None = None,
        groups: list[str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": subject,
            "iat": now,
            "exp": now + 300,
            "preferred_username": subject,
            "realm_access": {"roles": roles or []},
            "groups": groups or [],
        }
        claims.update(extra)
        return claims

    def token(
        self,
        subject: str,
        roles: list[str] | None = None,
        groups: list[str] | None = None,
        key: RSAKey | None = None,
        **extra: Any,
    ) -> str:
        key = key or self.keys[0]
        header = {"alg": "RS256", "typ": "JWT", "kid": key.kid}
        return jwt.encode(header, self.claims(subject, roles, groups, **extra), key)

    def headers(
        self,
        subject: str,
        roles: list[str] | None = None,
        groups: list[str] | None = None,
        **extra: Any,
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(subject, roles, groups, **extra)}"}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def auth_settings(tmp_path: Path, issuer: Issuer, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "store": str(tmp_path / "store"),
        "admin_key": ADMIN_KEY,
        "base_url": "http://127.0.0.1:8000",
        "oidc_issuer": issuer.url,
        "oidc_audience": AUDIENCE,
        "oidc_jwks_min_refresh": 0.0,
        "search_warmup": False,
    }
    values.update(extra)
    return Settings(**values)


@contextmanager
def auth_client(settings: Settings) -> Iterator[tuple[TestClient, Catalog]]:
    catalog = Catalog(settings)
    try:
        with TestClient(create_app(settings, catalog), raise_server_exceptions=False) as client:
            yield client, catalog
    finally:
        catalog.close()
