"""Access tokens (signed here with joserfc, keys served over loopback HTTP), API keys and the
bootstrap admin key: what is accepted, what is refused, and how (401 / 403 + WWW-Authenticate).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey

from api.auth.tokens import OidcValidator, TokenError
from tests.support.auth import AUDIENCE, Issuer, auth_client, auth_settings
from tests.support.data import AUTH


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    found = Issuer()
    yield found
    found.close()


@pytest.fixture
def api(tmp_path: Path, issuer: Issuer) -> Iterator[TestClient]:
    with auth_client(auth_settings(tmp_path, issuer, search_enabled=False)) as (client, _):
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def refused(response: Any, error: str = "invalid_token") -> str:
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="aiod-kg"'), challenge
    assert f'error="{error}"' in challenge, challenge
    body = response.json()
    assert set(body) == {"detail", "reference"}
    return str(body["detail"])


def test_a_valid_token_names_the_user_and_roles(api: TestClient, issuer: Issuer) -> None:
    token = issuer.token(
        "u-1", ["edit_aiod_resources", "offline_access"], ["/hospital"], preferred_username="alice"
    )
    got = api.get("/authorization_test", headers=bearer(token))
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["name"] == "alice"
    assert body["roles"] == ["edit_aiod_resources", "offline_access"]
    assert body["subject"] == "u-1" and "hospital" in body["groups"] and not body["admin"]
    admin = api.get("/authorization_test", headers=issuer.headers("root", ["aiod_admin"]))
    assert admin.json()["admin"] is True


def test_authorization_test_needs_credentials(api: TestClient) -> None:
    got = api.get("/authorization_test")
    assert got.status_code == 401
    assert got.headers["www-authenticate"] == 'Bearer realm="aiod-kg"'
    assert api.get("/authorization_test", headers=AUTH).json()["name"] == "admin"
    refused(
        api.get("/authorization_test", headers={"Authorization": "Basic dTpw"}), "invalid_request"
    )


def test_expired_and_not_yet_valid_tokens_are_refused(api: TestClient, issuer: Issuer) -> None:
    now = int(time.time())
    expired = issuer.token("u", exp=now - 120, iat=now - 600)
    assert "expired" in refused(api.get("/authorization_test", headers=bearer(expired))).lower()
    early = issuer.token("u", nbf=now + 600)
    refused(api.get("/authorization_test", headers=bearer(early)))
    # within the leeway (30 s) a slightly expired token still passes
    fresh = issuer.token("u", exp=now - 5)
    assert api.get("/authorization_test", headers=bearer(fresh)).status_code == 200
    no_exp = jwt.encode(
        {"alg": "RS256", "kid": issuer.keys[0].kid},
        {k: v for k, v in issuer.claims("u").items() if k != "exp"},
        issuer.keys[0],
    )
    refused(api.get("/authorization_test", headers=bearer(no_exp)))


def test_wrong_audience_and_issuer_are_refused(api: TestClient, issuer: Issuer) -> None:
    refused(api.get("/authorization_test", headers=bearer(issuer.token("u", aud="account"))))
    refused(
        api.get("/authorization_test", headers=bearer(issuer.token("u", aud=["other", "account"])))
    )
    ok = issuer.token("u", aud=["other", AUDIENCE])
    assert api.get("/authorization_test", headers=bearer(ok)).status_code == 200
    refused(
        api.get(
            "/authorization_test", headers=bearer(issuer.token("u", iss="https://evil.example.org"))
        )
    )
    reserved = issuer.token("aiod-kg:admin")  # an IdP subject posing as the admin key
    refused(api.get("/authorization_test", headers=bearer(reserved)))
    no_sub = jwt.encode(
        {"alg": "RS256", "kid": issuer.keys[0].kid},
        {k: v for k, v in issuer.claims("u").items() if k != "sub"},
        issuer.keys[0],
    )
    refused(api.get("/authorization_test", headers=bearer(no_sub)))
    inactive = issuer.token("u", active=False)
    refused(api.get("/authorization_test", headers=bearer(inactive)))


def test_unsigned_tampered_and_confused_tokens_are_refused(api: TestClient, issuer: Issuer) -> None:
    claims = issuer.claims("attacker", ["aiod_admin"])
    # alg: none, with and without a signature part
    none = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    assert "none" in refused(api.get("/authorization_test", headers=bearer(none)))
    refused(api.get("/authorization_test", headers=bearer(none + "c2ln")))
    refused(
        api.get("/authorization_test", headers=bearer(f"{b64({'alg': 'NONE'})}.{b64(claims)}."))
    )
    # a valid token whose payload is swapped for an admin's
    valid = issuer.token("user", [])
    header, _, signature = valid.split(".")
    tampered = f"{header}.{b64(claims)}.{signature}"
    refused(api.get("/authorization_test", headers=bearer(tampered)))
    # a flipped signature byte
    flipped = valid[:-3] + ("A" if valid[-3] != "A" else "B") + valid[-2:]
    refused(api.get("/authorization_test", headers=bearer(flipped)))
    # HS256 "signed" with the public key (algorithm confusion)
    public_pem = issuer.keys[0].as_pem(private=False)
    signing_input = f"{b64({'alg': 'HS256', 'kid': issuer.keys[0].kid})}.{b64(claims)}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    confused = f"{signing_input}.{b64(mac)}"
    refused(api.get("/authorization_test", headers=bearer(confused)))
    # signed by a key the issuer never published, with a kid that it did publish
    published_kid = issuer.keys[0].kid
    assert published_kid is not None
    rogue = Issuer.new_key(published_kid)
    forged = jwt.encode({"alg": "RS256", "kid": rogue.kid}, claims, rogue)
    refused(api.get("/authorization_test", headers=bearer(forged)))
    # an algorithm that is allowed but a key of another type
    ec = ECKey.generate_key("P-256", parameters={"kid": "ec-1"})
    refused(
        api.get(
            "/authorization_test",
            headers=bearer(jwt.encode({"alg": "ES256", "kid": "ec-1"}, claims, ec)),
        )
    )
    # garbage
    for junk in ("x", "a.b", "a.b.c", "....", "Bearer", "%C3%A9.e30.e30", "e30.e30.e30"):
        refused(api.get("/authorization_test", headers=bearer(junk)))
    # refused tokens do nothing: no write went through
    assert api.get("/counts").json() == {}


def test_refused_token_on_public_reads_and_writes(api: TestClient, issuer: Issuer) -> None:
    expired = issuer.token("u", ["edit_aiod_resources"], exp=int(time.time()) - 600)
    refused(api.get("/datasets", headers=bearer(expired)))
    refused(api.post("/datasets", json={"name": "x"}, headers=bearer(expired)))
    # no credentials on a write: 401 with a bare challenge; a signed-in user without a role
    # uploads a draft, as in AIoD (AIOD_KG_CREATE_REQUIRES_ROLE=true asks for the role: 403)
    anonymous = api.post("/datasets", json={"name": "x"})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="aiod-kg"'
    nobody = api.post("/datasets", json={"name": "x"}, headers=issuer.headers("u", []))
    assert nobody.status_code == 200, nobody.text
    draft = api.get(f"/datasets/{nobody.json()['identifier']}", headers=issuer.headers("u", []))
    assert draft.json()["aiod_entry"]["status"] == "draft"


def test_create_requires_role_setting(tmp_path: Path, issuer: Issuer) -> None:
    settings = auth_settings(tmp_path, issuer, search_enabled=False, create_requires_role=True)
    with auth_client(settings) as (client, _):
        nobody = client.post("/datasets", json={"name": "x"}, headers=issuer.headers("u", []))
        assert nobody.status_code == 403
        assert 'error="insufficient_scope"' in nobody.headers["www-authenticate"]
        editor = client.post(
            "/datasets", json={"name": "x"}, headers=issuer.headers("e", ["edit_aiod_resources"])
        )
        assert editor.status_code == 200, editor.text


def test_key_rotation_refetches_once_and_retires_old_keys(api: TestClient, issuer: Issuer) -> None:
    old = issuer.token("u")
    assert api.get("/authorization_test", headers=bearer(old)).status_code == 200
    fetched = issuer.jwks_requests
    for _ in range(3):  # cached: no new fetch
        assert api.get("/authorization_test", headers=bearer(old)).status_code == 200
    assert issuer.jwks_requests == fetched
    new_key = issuer.rotate("key-2")
    new = issuer.token("u", key=new_key)
    assert api.get("/authorization_test", headers=bearer(new)).status_code == 200
    assert issuer.jwks_requests == fetched + 1  # the unknown kid made one refetch
    # the retired key is gone from the refreshed set
    refused(api.get("/authorization_test", headers=bearer(old)))


def test_unknown_key_ids_cannot_flood_the_provider(tmp_path: Path, issuer: Issuer) -> None:
    settings = auth_settings(tmp_path, issuer, oidc_jwks_min_refresh=3600.0)
    validator = OidcValidator(settings)
    try:
        validator.validate(issuer.token("u"))
        assert validator.fetches == 1
        claims = issuer.claims("u")
        rogue = Issuer.new_key("made-up")
        for n in range(20):
            token = jwt.encode({"alg": "RS256", "kid": f"made-up-{n}"}, claims, rogue)
            with pytest.raises(TokenError):
                validator.validate(token)
        assert validator.fetches == 1  # rate limited: no refetch within the interval
    finally:
        validator.close()


def test_provider_down_is_a_503_not_a_pass(tmp_path: Path, issuer: Issuer) -> None:
    token = issuer.token("u")
    issuer.close()
    with auth_client(auth_settings(tmp_path, issuer, search_enabled=False)) as (client, _):
        got = client.get("/authorization_test", headers=bearer(token))
        assert got.status_code == 503
        assert client.get("/counts").status_code == 200  # anonymous reads go on


# --------------------------------------------------------------------------- API keys


def test_api_keys_created_shown_once_used_and_revoked(api: TestClient, issuer: Issuer) -> None:
    created = api.post(
        "/api_keys", json={"name": "openml connector", "roles": ["platform_openml"]}, headers=AUTH
    )
    assert created.status_code == 200, created.text
    key = created.json()
    secret = key.pop("key")
    assert secret.startswith("aiodkg_") and len(secret) > 40
    listed = api.get("/api_keys", headers=AUTH).json()
    assert [k["id"] for k in listed] == [key["id"]]
    assert secret not in json.dumps(listed)  # never shown again
    me = api.get("/authorization_test", headers=bearer(secret)).json()
    assert me["name"] == "openml connector" and me["roles"] == ["platform_openml"]
    # scoped: it writes its platform's assets, published directly, and nothing else
    record = {
        "name": "A harvested dataset",
        "platform": "openml",
        "platform_resource_identifier": "61",
    }
    made = api.post("/datasets", json=record, headers=bearer(secret))
    assert made.status_code == 200, made.text
    assert api.get(f"/datasets/{made.json()['identifier']}").status_code == 200  # public
    other = api.post("/datasets", json={**record, "platform": "zenodo"}, headers=bearer(secret))
    assert other.status_code == 403
    mine = api.post("/datasets", json={"name": "user upload"}, headers=bearer(secret))
    assert mine.status_code == 403
    # non-admins manage no keys
    user = issuer.headers("u", ["edit_aiod_resources"])
    assert api.post("/api_keys", json={"name": "x"}, headers=user).status_code == 403
    assert api.get("/api_keys", headers=bearer(secret)).status_code == 403
    assert api.get("/api_keys").status_code == 401
    # revoked: refused at once
    assert api.delete(f"/api_keys/{key['id']}", headers=AUTH).json()["revoked"] is True
    refused(api.get("/authorization_test", headers=bearer(secret)))
    refused(api.get("/authorization_test", headers=bearer(secret[:-1] + "x")))
    assert api.delete("/api_keys/nope", headers=AUTH).status_code == 404


def test_api_key_with_admin_role_is_an_admin(api: TestClient) -> None:
    secret = api.post(
        "/api_keys", json={"name": "ops", "roles": ["aiod_admin"]}, headers=AUTH
    ).json()["key"]
    assert api.get("/api_keys", headers=bearer(secret)).status_code == 200


def test_api_keys_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.cli.main import main

    monkeypatch.setenv("AIOD_KG_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("AIOD_KG_SEARCH_ENABLED", "false")
    assert main(["api-key", "create", "--name", "bot", "--role", "platform_zenodo"]) == 0
    out = capsys.readouterr().out
    secret = next(w for w in out.split() if w.startswith("aiodkg_"))
    assert main(["api-key", "list"]) == 0
    listing = capsys.readouterr().out
    assert "bot" in listing and "platform_zenodo" in listing and secret not in listing
    key_id = secret.split("_")[1]
    assert main(["api-key", "revoke", key_id]) == 0
    assert main(["api-key", "revoke", "nope"]) == 1


def test_requests_never_talk_to_the_provider(tmp_path: Path, issuer: Issuer) -> None:
    """Every discovery and JWKS request is made by the refresher thread, none by a request:
    the first token, a rotation (unknown key id) and a provider restart all included."""
    with auth_client(auth_settings(tmp_path, issuer, search_enabled=False)) as (client, _):
        validator = client.app.state.oidc  # type: ignore[attr-defined]
        threads: list[str] = []
        real_get = validator._client.get

        def recording_get(*args: Any, **kwargs: Any) -> Any:
            threads.append(threading.current_thread().name)
            return real_get(*args, **kwargs)

        validator._client.get = recording_get
        assert client.get("/authorization_test", headers=bearer(issuer.token("u"))).is_success
        rotated = issuer.token("u", key=issuer.rotate("key-2"))
        assert client.get("/authorization_test", headers=bearer(rotated)).is_success
        assert validator.fetches >= 2  # at start (or first use), and for the new key id
        assert threads and set(threads) == {"oidc-jwks-refresher"}, threads
