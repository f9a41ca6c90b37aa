"""FastAPI dependencies: the catalog, the settings, the admin check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from kg.catalog import Catalog
from kg.settings import Settings


def get_catalog(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.catalog
    return catalog


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


CatalogDep = Annotated[Catalog, Depends(get_catalog)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def require_admin(request: Request, settings: SettingsDep) -> None:
    """Writes need ``Authorization: Bearer <AIOD_KG_ADMIN_KEY>`` (full auth: its own issue)."""
    challenge = {"WWW-Authenticate": 'Bearer realm="aiod-kg"'}
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            401, "This request needs an API key: Authorization: Bearer <key>.", headers=challenge
        )
    key = settings.admin_key.get_secret_value() if settings.admin_key else ""
    if not key:
        raise HTTPException(
            403, "Writes are disabled: no admin key is configured (set AIOD_KG_ADMIN_KEY)."
        )
    if not hmac.compare_digest(token.strip().encode(), key.encode()):
        raise HTTPException(401, "Invalid API key.", headers=challenge)


AdminDep = Annotated[None, Depends(require_admin)]
