"""FastAPI dependencies: the catalog, the settings, the admin check (principals: api/auth)."""

from __future__ import annotations

import asyncio
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


def page_slots(request: Request, catalog: Catalog) -> asyncio.Semaphore:
    """The app's slots for reading list pages: as many at once as the catalogue index reads
    pages at once (``kg.store.index.PAGE_READERS``: one on SQLite); the others wait on the
    event loop, first come first served. In the thread pool they waited on the GIL and on the
    index's reader limit, where nothing is fair and a few pages waited for many others (list
    of 100 at random offsets at 1M under 16 connections: 646-657/s, p50 24 ms, p99 66; with
    the slots: 802-877/s, p50 17-19, p99 27-31)."""
    # one per serving loop: the lifespan resets it (a semaphore that a request once waited on
    # belongs to that request's event loop)
    slots: asyncio.Semaphore | None = getattr(request.app.state, "page_slots", None)
    if slots is None:
        slots = asyncio.Semaphore(catalog.index.page_readers)
        request.app.state.page_slots = slots
    return slots


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
