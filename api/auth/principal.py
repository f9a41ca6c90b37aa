"""Who is asking: the ``Authorization`` header resolved into a ``kg.access.rules.Principal``.

* no header: anonymous;
* ``Bearer <AIOD_KG_ADMIN_KEY>``: the bootstrap admin (subject ``admin``);
* ``Bearer aiodkg_...``: an API key (created by an admin, stored hashed, scoped to roles);
* any other ``Bearer`` value: an OIDC access token (``api.auth.tokens``), when an issuer is
  configured.

A header that is present but not valid is answered 401 with ``WWW-Authenticate`` (RFC 6750)
even on public reads, so a client learns that its token expired instead of silently seeing
less. 403 means "authenticated, but not allowed".
"""

from __future__ import annotations

import hmac
import logging
import threading
from dataclasses import replace
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from api.auth.tokens import (
    OidcValidator,
    ProviderError,
    TokenError,
    groups_from,
    roles_from,
    split,
)
from kg.access.rules import ADMIN_SUBJECT, ANONYMOUS, LOCAL_SUBJECT_PREFIX, AccessControl, Principal
from kg.catalog import Catalog
from kg.settings import Settings

log = logging.getLogger("aiod_kg.auth")
REALM = 'Bearer realm="aiod-kg"'
_state_lock = threading.Lock()


def challenge(error: str | None = None, description: str | None = None) -> dict[str, str]:
    value = REALM
    if error:
        value += f', error="{error}"'
    if description:
        value += ', error_description="' + description.replace('"', "'") + '"'
    return {"WWW-Authenticate": value}


def unauthorized(detail: str, error: str | None = None) -> HTTPException:
    return HTTPException(401, detail, headers=challenge(error, detail if error else None))


def forbidden(detail: str) -> HTTPException:
    return HTTPException(403, detail, headers=challenge("insufficient_scope", detail))


def get_access(request: Request) -> AccessControl:
    """The app's ``AccessControl`` over its catalog's index (made on first use)."""
    state = request.app.state
    catalog: Catalog = state.catalog
    access: AccessControl | None = getattr(state, "access", None)
    if access is None or access.index is not catalog.index:
        with _state_lock:
            access = getattr(state, "access", None)
            if access is None or access.index is not catalog.index:
                access = AccessControl(catalog.index)
                state.access = access
    return access


def get_validator(request: Request) -> OidcValidator | None:
    settings: Settings = request.app.state.settings
    if not settings.oidc_issuer:
        return None
    validator: OidcValidator | None = getattr(request.app.state, "oidc", None)
    if validator is None:
        with _state_lock:
            validator = getattr(request.app.state, "oidc", None)
            if validator is None:
                validator = OidcValidator(settings)
                validator.start()
                request.app.state.oidc = validator
    return validator


def bearer_token(request: Request) -> str | None:
    """The bearer token, None without an Authorization header; 401 for other schemes."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("Use Authorization: Bearer <token or API key>.", "invalid_request")
    return token


def _admin_key(settings: Settings) -> str:
    return settings.admin_key.get_secret_value() if settings.admin_key else ""


def with_admin_flag(principal: Principal, settings: Settings) -> Principal:
    admin_roles = set(split(settings.admin_roles))
    return replace(principal, admin=principal.admin or bool(admin_roles & principal.roles))


def principal_from_claims(claims: dict[str, object], settings: Settings) -> Principal:
    subject = str(claims["sub"])
    name = (
        claims.get(settings.oidc_name_claim)
        or claims.get("username")
        or claims.get("name")
        or subject
    )
    principal = Principal(
        "user",
        subject,
        str(name),
        roles_from(claims, split(settings.oidc_roles_claim)),
        groups_from(claims, settings.oidc_groups_claim),
    )
    return with_admin_flag(principal, settings)


def resolve(request: Request, token: str) -> Principal:
    """Blocking: may fetch the provider's keys (run it off the event loop)."""
    settings: Settings = request.app.state.settings
    admin_key = _admin_key(settings)
    if admin_key and hmac.compare_digest(token.encode(), admin_key.encode()):
        return Principal("admin", ADMIN_SUBJECT, "admin", frozenset({"admin"}), admin=True)
    if token.startswith("aiodkg_"):
        principal = get_access(request).key_principal(token)
        if principal is None:
            raise unauthorized("Invalid or revoked API key.", "invalid_token")
        return with_admin_flag(principal, settings)
    validator = get_validator(request)
    if validator is None:
        if not admin_key:
            raise unauthorized(
                "Invalid credentials: this server has no AIOD_KG_ADMIN_KEY and no "
                "identity provider (AIOD_KG_OIDC_ISSUER); only API keys work.",
                "invalid_token",
            )
        raise unauthorized("Invalid API key.", "invalid_token")
    try:
        claims = validator.validate(token)
        if str(claims["sub"]).startswith(LOCAL_SUBJECT_PREFIX):  # never a local principal
            raise TokenError("Token rejected: reserved subject.")
    except TokenError as exc:
        raise unauthorized(str(exc), "invalid_token") from None
    except ProviderError as exc:
        log.warning("identity provider unavailable: %s", exc)
        raise HTTPException(
            503,
            "The identity provider cannot be reached; try again later.",
            headers={"Retry-After": "5"},
        ) from None
    return principal_from_claims(claims, settings)


def _local_index(request: Request) -> bool:
    """Whether an API key lookup is a local SQLite read (microseconds: fine on the event
    loop), not a PostgreSQL round trip (thread pool)."""
    catalog = getattr(request.app.state, "catalog", None)
    return catalog is None or catalog.index.dialect == "sqlite"


async def get_principal(request: Request) -> Principal:
    """FastAPI dependency: the request's principal (cached on the request)."""
    state = request.scope.setdefault("state", {})  # what request.state wraps
    cached: Principal | None = state.get("principal")
    if cached is not None:
        return cached
    if not any(name == b"authorization" for name, _ in request.scope["headers"]):
        state["principal"] = ANONYMOUS  # the anonymous fast path: no header, no parsing
        return ANONYMOUS
    token = bearer_token(request)
    if token is None:
        principal = ANONYMOUS
    elif _local_index(request) and (
        token.startswith("aiodkg_")
        or hmac.compare_digest(
            token.encode(), _admin_key(request.app.state.settings).encode() or b"\0"
        )
    ):
        principal = resolve(request, token)  # one SQLite lookup at most: on the loop
    else:
        principal = await run_in_threadpool(resolve, request, token)
    request.state.principal = principal
    return principal


def principal_sync(request: Request) -> Principal:
    """``get_principal`` for synchronous code."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    token = bearer_token(request)
    principal = ANONYMOUS if token is None else resolve(request, token)
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_user(principal: PrincipalDep) -> Principal:
    if not principal.authenticated:
        raise unauthorized("This request needs authentication: Authorization: Bearer <token>.")
    return principal


def require_admin_principal(principal: PrincipalDep) -> Principal:
    if not principal.authenticated:
        raise unauthorized("This request needs admin rights: Authorization: Bearer <key>.")
    if not principal.admin:
        raise forbidden("This request needs admin rights.")
    return principal


UserDep = Annotated[Principal, Depends(require_user)]
AdminPrincipalDep = Annotated[Principal, Depends(require_admin_principal)]
