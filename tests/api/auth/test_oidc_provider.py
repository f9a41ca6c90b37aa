"""Integration: a real OpenID Connect provider process (npm ``oidc-provider``, tests/oidc/)
issues access tokens by the client-credentials grant (fetched with Authlib's OAuth2 client);
the API discovers it, accepts its tokens, follows a key rotation and refuses what it must.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from authlib.integrations.httpx_client import OAuth2Client
from joserfc.jwk import RSAKey

from kg.settings import Settings
from tests.support import oidc
from tests.support.auth import auth_client
from tests.support.data import AUTH, OIDC_PROJECT
from tests.support.server import free_port

OIDC_DIR = OIDC_PROJECT  # the Node project (package.json, node_modules)
AUDIENCE = "urn:aiod-kg"
CLIENTS = {
    "alice": {
        "secret": "alice-secret-0123456789",
        "name": "Alice",
        "roles": ["edit_aiod_resources"],
        "groups": ["/lab"],
    },
    "rita": {
        "secret": "rita-secret-0123456789",
        "name": "Rita",
        "roles": ["review_aiod_resources"],
    },
    "bob": {"secret": "bob-secret-0123456789", "name": "Bob", "roles": []},
}

pytestmark = [pytest.mark.slow, pytest.mark.engine]  # the Node OIDC provider


def ensure_installed() -> None:
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed")
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():  # make install does this
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=OIDC_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            pytest.skip(f"npm ci failed in tests/oidc: {done.stderr[-500:]}")


class Provider:
    """The provider process; ``restart(keys)`` is a key rotation (same issuer, same port)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[str] | None = None

    def start(self, keys: list[RSAKey]) -> None:
        config = {
            "keys": {"keys": [k.as_dict(private=True) for k in keys]},
            "audience": AUDIENCE,
            "clients": CLIENTS,
        }
        self.process = oidc.launch(self.port, config, self.workdir)

    def stop(self) -> None:
        if self.process is not None:
            oidc.stop(self.process)
            self.process = None

    def token(self, client_id: str) -> str:
        client = OAuth2Client(
            client_id,
            CLIENTS[client_id]["secret"],
            scope="api",
            token_endpoint_auth_method="client_secret_basic",
        )
        try:
            token = client.fetch_token(f"{self.issuer}/token", grant_type="client_credentials")
        finally:
            client.close()
        return str(token["access_token"])


def rsa(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    ensure_installed()
    found = Provider(tmp_path_factory.mktemp("oidc"))
    found.start([rsa("first")])
    yield found
    found.stop()


def app_settings(tmp_path: Path, provider: Provider, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "store": str(tmp_path / "store"),
        "admin_key": AUTH["Authorization"].split()[1],
        "oidc_issuer": provider.issuer,
        "oidc_audience": AUDIENCE,
        "oidc_jwks_min_refresh": 0.0,
        "search_enabled": False,
    }
    values.update(extra)
    return Settings(**values)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_tokens_of_a_real_provider(tmp_path: Path, provider: Provider) -> None:
    alice, rita, bob = (provider.token(c) for c in ("alice", "rita", "bob"))
    # create_requires_role: bob (no role) may not create (the default lets any user draft)
    with auth_client(app_settings(tmp_path, provider, create_requires_role=True)) as (api, _):
        me = api.get("/authorization_test", headers=bearer(alice))
        assert me.status_code == 200, me.text
        assert me.json()["name"] == "Alice" and me.json()["roles"] == ["edit_aiod_resources"]
        assert me.json()["subject"] == "alice"
        # the whole workflow with the provider's tokens
        made = api.post("/datasets", json={"name": "Alice's secret dataset"}, headers=bearer(alice))
        assert made.status_code == 200, made.text
        identifier = made.json()["identifier"]
        assert api.get(f"/datasets/{identifier}", headers=bearer(alice)).status_code == 200
        assert api.get(f"/datasets/{identifier}", headers=bearer(bob)).status_code == 404
        assert api.get(f"/datasets/{identifier}").status_code == 404
        assert api.post("/datasets", json={"name": "x"}, headers=bearer(bob)).status_code == 403
        assert api.post(f"/submissions/{identifier}", headers=bearer(alice)).status_code == 200
        seen = api.get(f"/datasets/{identifier}", headers=bearer(rita)).headers["etag"]
        review = api.post(
            f"/reviews/{identifier}",
            json={"decision": "accept", "etag": seen},  # the version reviewed
            headers=bearer(rita),
        )
        assert review.status_code == 200, review.text
        assert api.get(f"/datasets/{identifier}").status_code == 200  # published
        # a tampered provider token is refused
        header, payload, signature = alice.split(".")
        assert (
            api.get(
                "/authorization_test", headers=bearer(f"{header}.{payload}.{signature[::-1]}")
            ).status_code
            == 401
        )
    # an API configured for another audience refuses the same tokens
    with auth_client(
        app_settings(tmp_path / "other", provider, oidc_audience="urn:another-api")
    ) as (api, _):
        refused = api.get("/authorization_test", headers=bearer(alice))
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    # ... and so does one that trusts another issuer
    with auth_client(
        app_settings(
            tmp_path / "iss",
            provider,
            oidc_issuer=provider.issuer + "/realms/other",
            oidc_jwks_url=provider.issuer + "/jwks",
        )
    ) as (api, _):
        assert api.get("/authorization_test", headers=bearer(alice)).status_code == 401


def test_key_rotation_of_a_real_provider(tmp_path: Path, provider: Provider) -> None:
    with auth_client(app_settings(tmp_path, provider)) as (api, _):
        old = provider.token("alice")
        assert api.get("/authorization_test", headers=bearer(old)).status_code == 200
        validator = api.app.state.oidc  # type: ignore[attr-defined]
        fetches = validator.fetches
        # rotation: the provider restarts signing with a new key and no longer publishes the
        # old one
        provider.stop()
        second = rsa("second")
        provider.start([second])
        new = provider.token("alice")
        assert new != old
        got = api.get("/authorization_test", headers=bearer(new))
        assert got.status_code == 200, got.text
        assert validator.fetches == fetches + 1  # one refetch for the unknown key id
        assert api.get("/authorization_test", headers=bearer(old)).status_code == 401
        # overlapping rotation: a third key signs, the second is still published: both work
        provider.stop()
        provider.start([rsa("third"), second])
        third = provider.token("alice")
        assert api.get("/authorization_test", headers=bearer(third)).status_code == 200
        assert api.get("/authorization_test", headers=bearer(new)).status_code == 200
