"""OAuth2 resource server: validate OIDC access tokens (JWT) of any provider (Keycloak in AIoD).

* discovery: ``<issuer>/.well-known/openid-configuration`` (its ``issuer`` must match) gives
  the ``jwks_uri``;
* the JWKS is cached for ``oidc_jwks_ttl`` seconds; a token signed with a key id the cache does
  not know makes one refetch (at most one per ``oidc_jwks_min_refresh`` seconds), which is how
  a provider's key rotation is followed -- and a retired key stops working with that refetch;
* request handling never talks to the provider: one background thread per validator (the
  *refresher*) does every discovery and JWKS request, through the one outbound client
  (``kg.outbound``: timeouts, allowed hosts, no link-local/metadata addresses, size cap,
  checked redirects). It fetches at start, again when the keys pass their TTL, and when a
  request asks for it (an unknown key id, at most once per ``oidc_jwks_min_refresh``; a failed
  fetch is not retried sooner either). A request that needs keys the refresher does not have
  yet waits for it, at most ``oidc_timeout`` twice over, and then answers 503;
* signatures with the configured asymmetric algorithms only (``none`` and HMAC never: an HMAC
  "signed" with the public key would otherwise verify), then ``iss``, ``aud``, ``exp``,
  ``nbf`` (and ``iat``) with ``oidc_leeway`` seconds of clock skew.

JOSE is done by joserfc, the JOSE implementation of the Authlib project (Authlib's own
``authlib.jose`` is deprecated in its favour).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact
from joserfc.jwt import JWTClaimsRegistry

from kg.outbound import Outbound, OutboundError, OutboundPolicy
from kg.settings import Settings

JWKS_MAX_BYTES = 1024 * 1024  # discovery documents and key sets
FORBIDDEN_ALGORITHMS = frozenset({"none", "HS256", "HS384", "HS512"})


class TokenError(Exception):
    """The token is not acceptable; the message is safe to show."""


class ProviderError(Exception):
    """The identity provider could not be reached or answered nonsense."""


def claim_at(claims: dict[str, Any], path: str) -> Any:
    """The value at a dotted claim path (``realm_access.roles``), or None."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


class OidcValidator:
    """Validates access tokens of one issuer. Thread-safe; provider I/O only in its refresher."""

    def __init__(self, settings: Settings, client: Outbound | None = None) -> None:
        if not settings.oidc_issuer:
            raise ValueError("OidcValidator needs AIOD_KG_OIDC_ISSUER")
        self.issuer = settings.oidc_issuer
        self.audiences = split(settings.oidc_audience)
        self.algorithms = [
            a for a in split(settings.oidc_algorithms) if a not in FORBIDDEN_ALGORITHMS
        ]
        self.leeway = settings.oidc_leeway
        self.ttl = settings.oidc_jwks_ttl
        self.min_refresh = settings.oidc_jwks_min_refresh
        self.discovery_url = settings.oidc_discovery_url or (
            self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        )
        self.jwks_url = settings.oidc_jwks_url
        # the discovery document once fetched (the UI's sign-in page reads its endpoints)
        self.discovery: dict[str, Any] = {}
        # discovery and JWKS documents are small, and a request may be waiting for them
        self._client = client or Outbound(
            OutboundPolicy.from_settings(
                settings,
                read_timeout=settings.oidc_timeout,
                total_timeout=settings.oidc_timeout,
                max_bytes=JWKS_MAX_BYTES,
            )
        )
        self._changed = threading.Condition()
        self._keys: KeySet | None = None
        self._fetched = 0.0  # monotonic time of the last successful JWKS fetch
        self._attempted = float("-inf")  # monotonic time of the last fetch attempt
        self._attempts = 0  # fetch attempts finished, successful or not
        self._error: ProviderError | None = None  # the last attempt's failure
        self._wanted = 0  # a request asks for the attempt with this number
        self._refresher: threading.Thread | None = None
        self._closed = False
        self.wait_timeout = 2 * settings.oidc_timeout + 1.0  # discovery, then the JWKS
        self.fetches = 0  # JWKS downloads so far (tests and logs read it)

    # ------------------------------------------------------------------ keys (refresher)

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = self._client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, OutboundError, ValueError) as exc:
            raise ProviderError(f"{url}: {exc}") from exc
        if not isinstance(document, dict):
            raise ProviderError(f"{url}: not a JSON object")
        return document

    def _jwks_uri(self) -> str:
        if self.jwks_url:
            return self.jwks_url
        document = self._get_json(self.discovery_url)
        if document.get("issuer") != self.issuer:
            raise ProviderError(
                f"discovery says issuer {document.get('issuer')!r}, expected {self.issuer!r}"
            )
        uri = document.get("jwks_uri")
        if not isinstance(uri, str):
            raise ProviderError("discovery document without jwks_uri")
        self.jwks_url = uri
        self.discovery = document
        return uri

    def _fetch(self) -> KeySet:
        document = self._get_json(self._jwks_uri())
        try:
            return KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise ProviderError(f"invalid JWKS: {exc}") from exc

    def start(self) -> None:
        """Start the refresher (idempotent; the app starts it with itself, so keys are warm)."""
        with self._changed:
            if self._refresher is None and not self._closed:
                self._refresher = threading.Thread(
                    target=self._refresh_forever, name="oidc-jwks-refresher", daemon=True
                )
                self._refresher.start()

    def _due_in(self, now: float) -> float:
        """Seconds until the next fetch is due (0: now). Called with the lock held."""
        # never more than one attempt per min_refresh, successful or not
        pace = 0.0 if self._attempts == 0 else self.min_refresh - (now - self._attempted)
        if self._keys is None or self._wanted > self._attempts:
            return max(0.0, pace)  # nothing yet, or a request waits
        return max(0.0, pace, self.ttl - (now - self._fetched))  # the TTL (kept if it fails)

    def _refresh_forever(self) -> None:
        while True:
            with self._changed:
                while not self._closed:
                    wait = self._due_in(time.monotonic())
                    if wait <= 0:
                        break
                    self._changed.wait(wait)
                if self._closed:
                    return
                self._attempted = time.monotonic()
            try:
                keys, error = self._fetch(), None
            except ProviderError as exc:
                keys, error = None, exc
            with self._changed:
                if keys is not None:
                    self._keys, self._fetched = keys, time.monotonic()
                    self.fetches += 1
                self._error = error
                self._attempts += 1
                self._changed.notify_all()

    def keys(self, unknown_kid: bool = False) -> KeySet:
        """The cached key set. With none yet, or for an unknown key id (at most once per
        ``min_refresh``: a flood of made-up key ids costs one fetch per interval), the request
        asks the refresher for a fetch and waits for it; ``ProviderError`` when it fails."""
        self.start()
        with self._changed:
            now = time.monotonic()
            if self._keys is not None and not unknown_kid:
                return self._keys
            if self._keys is not None and now - self._attempted < self.min_refresh:
                return self._keys  # rate limited: what we have
            if self._keys is None and self._attempts and now - self._attempted < self.min_refresh:
                raise self._error or ProviderError("no keys yet")  # failed lately: no new try
            target = self._attempts + 1
            self._wanted = max(self._wanted, target)
            self._changed.notify_all()
            deadline = now + self.wait_timeout
            while self._attempts < target and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ProviderError("the identity provider did not answer in time")
                self._changed.wait(left)
            if self._keys is None:
                raise self._error or ProviderError("no keys from the identity provider")
            return self._keys

    # ------------------------------------------------------------------ tokens

    def validate(self, token: str) -> dict[str, Any]:
        """The token's claims if it is valid, else ``TokenError``."""
        try:
            header = extract_compact(token.encode()).headers()
        except (JoseError, ValueError, TypeError, UnicodeError) as exc:
            raise TokenError("The token is not a well-formed JWT.") from exc
        algorithm = header.get("alg")
        if algorithm not in self.algorithms:
            raise TokenError(f"Token algorithm {algorithm!r} is not accepted.")
        keys = self.keys()
        try:
            try:
                decoded = jwt.decode(token, keys, algorithms=self.algorithms)
            except InvalidKeyIdError:
                decoded = jwt.decode(token, self.keys(unknown_kid=True), algorithms=self.algorithms)
        except InvalidKeyIdError as exc:
            raise TokenError("The token is signed with an unknown key.") from exc
        except (JoseError, ValueError, TypeError) as exc:
            raise TokenError(f"Invalid token signature or encoding ({exc}).") from exc
        claims = dict(decoded.claims)
        self.check_claims(claims)
        return claims

    def check_claims(self, claims: dict[str, Any]) -> None:
        options: dict[str, Any] = {
            "iss": {"essential": True, "value": self.issuer},
            "exp": {"essential": True},
            "sub": {"essential": True},
        }
        if self.audiences:
            options["aud"] = {"essential": True, "values": self.audiences}
        registry = JWTClaimsRegistry(leeway=self.leeway, **options)
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise TokenError(f"Token rejected: {exc.description or exc.error}.") from exc
        if claims.get("active") is False:
            raise TokenError("Token rejected: the account is not active.")

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        if self._refresher is not None:
            self._refresher.join(timeout=self.wait_timeout)
        self._client.close()


def roles_from(claims: dict[str, Any], paths: Sequence[str]) -> frozenset[str]:
    found: set[str] = set()
    for path in paths:
        found.update(strings(claim_at(claims, path)))
    return frozenset(found)


def groups_from(claims: dict[str, Any], path: str) -> frozenset[str]:
    """Group names; Keycloak's full paths (``/hospital``) are kept and also given bare."""
    found: set[str] = set()
    for group in strings(claim_at(claims, path)):
        found.add(group)
        found.add(group.lstrip("/"))
    return frozenset(g for g in found if g)
