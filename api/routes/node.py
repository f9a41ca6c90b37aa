"""``/node/local_only/{identifier}``: on an AIoD node, an owner keeps an asset off the central.

``PUT`` marks the asset local-only (the next ``aiod-kg sync`` withdraws it from the central),
``DELETE`` shares it again, ``GET`` says which. Only who may change the asset may change its
marking (owner, a ``write`` grant, its platform, admin: ``check_write``); the answer for an
asset the caller may not read is the read 404. The marking lives in the node's sync state
(kg/sync/state.py), not in the asset.
"""

from __future__ import annotations

import threading

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.auth.guard import check_read, check_write
from api.auth.principal import PrincipalDep, get_access
from api.deps import CatalogDep
from kg.access.rules import Principal
from kg.catalog import Catalog
from kg.errors import NotFound
from kg.model.fields import ASSET_TYPES, AssetType
from kg.sync.state import SyncState, sync_state

_LOCK = threading.Lock()


def _asset(identifier: str) -> AssetType:
    prefix = identifier.split("_", 1)[0]
    for asset in ASSET_TYPES.values():
        if asset.prefix == prefix:
            return asset
    raise NotFound(f"No asset '{identifier}' in the database.")


def _state(request: Request, catalog: Catalog) -> SyncState:
    with _LOCK:
        state = getattr(request.app.state, "sync_state", None)
        if state is None:
            state = request.app.state.sync_state = sync_state(catalog.settings)
        return state


def _answer(identifier: str, local: bool) -> Response:
    body = {"identifier": identifier, "local_only": local}
    return Response(orjson.dumps(body), media_type="application/json")


def node_router() -> APIRouter:
    router = APIRouter(tags=["node"])

    @router.get("/node/local_only/{identifier}", summary="Whether an asset stays on this node")
    def get_local_only(
        request: Request, catalog: CatalogDep, principal: PrincipalDep, identifier: str
    ) -> Response:
        asset = _asset(identifier)
        check_read(catalog, get_access(request), principal, asset, identifier)
        return _answer(identifier, identifier in _state(request, catalog).local_only())

    @router.put("/node/local_only/{identifier}", summary="Keep an asset on this node only")
    async def put_local_only(
        request: Request, catalog: CatalogDep, principal: PrincipalDep, identifier: str
    ) -> Response:
        return await run_in_threadpool(_mark, request, catalog, principal, identifier, True)

    @router.delete("/node/local_only/{identifier}", summary="Share an asset with the central")
    async def delete_local_only(
        request: Request, catalog: CatalogDep, principal: PrincipalDep, identifier: str
    ) -> Response:
        return await run_in_threadpool(_mark, request, catalog, principal, identifier, False)

    return router


def _mark(
    request: Request, catalog: Catalog, principal: Principal, identifier: str, local: bool
) -> Response:
    asset = _asset(identifier)
    check_write(catalog, get_access(request), principal, asset, identifier)
    _state(request, catalog).set_local_only(identifier, local)
    return _answer(identifier, local)
