"""FastAPI dependencies: the catalog, the settings, the admin check (principals: api/auth)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from api.auth.principal import challenge, principal_sync
from kg.catalog import Catalog
from kg.settings import Settings


def settings_of(request: Request) -> Settings:
    """The app's settings (``app.state.settings``, set by ``create_app``); for code that has
    the request at hand. As a dependency: ``get_settings`` / ``SettingsDep``."""
    settings: Settings = request.app.state.settings
    return settings


# Dependencies that only read app state are async, so that FastAPI does not hop to its
# thread pool for them (a sync dependency costs a thread-pool round trip per request).
async def get_catalog(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.catalog
    return catalog


async def get_settings(request: Request) -> Settings:
    """Dependency: the app's settings (the only ``get_settings``; ``kg.settings`` has none)."""
    return settings_of(request)


CatalogDep = Annotated[Catalog, Depends(get_catalog)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def require_admin(request: Request, settings: SettingsDep) -> None:
    """Admin rights (the bootstrap ``AIOD_KG_ADMIN_KEY``, an admin token or API key):
    401 without credentials, 403 with credentials that are not an admin's (api/auth)."""
    principal = principal_sync(request)
    if not principal.authenticated:
        raise HTTPException(
            401,
            "This request needs admin rights: Authorization: Bearer <key>.",
            headers=challenge(),
        )
    if not principal.admin:
        raise HTTPException(
            403, "This request needs admin rights.", headers=challenge("insufficient_scope")
        )


AdminDep = Annotated[None, Depends(require_admin)]
