"""``/bookmarks``: the signed-in user's bookmarked assets (AIoD's bookmarks API, as the SDK's
``aiod.bookmarks`` calls it). The table lives in kg/access/bookmarks.py."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.auth.guard import check_read
from api.auth.principal import UserDep, get_access
from api.deps import CatalogDep
from kg.access.bookmarks import Bookmarks
from kg.errors import NotFound

Identifier = Annotated[str, Query(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_\-]+$")]


def _bookmarks(request: Request) -> Bookmarks:
    found: Bookmarks | None = getattr(request.app.state, "bookmarks", None)
    if found is None:
        found = Bookmarks(get_access(request).index)
        request.app.state.bookmarks = found
    return found


def _json(value: object) -> Response:
    return Response(orjson.dumps(value), media_type="application/json")


def bookmarks_router(suffix: str = "") -> APIRouter:
    router = APIRouter(tags=["bookmarks"])

    @router.get(
        "/bookmarks",
        operation_id=f"list_bookmarks{suffix}",
        summary="The caller's bookmarks: [{resource_identifier, created_at}]",
    )
    def list_bookmarks(request: Request, principal: UserDep) -> Response:
        return _json([b.as_json() for b in _bookmarks(request).of(principal.subject)])

    @router.post(
        "/bookmarks",
        operation_id=f"add_bookmark{suffix}",
        summary="Bookmark an asset the caller may read",
    )
    def add_bookmark(
        request: Request,
        catalog: CatalogDep,
        principal: UserDep,
        resource_identifier: Identifier,
    ) -> Response:
        asset = catalog.type_of_identifier(resource_identifier)
        if asset is None:
            raise NotFound(f"Asset '{resource_identifier}' not found in the database.")
        check_read(catalog, get_access(request), principal, asset, resource_identifier)
        return _json(_bookmarks(request).add(principal.subject, resource_identifier).as_json())

    @router.delete(
        "/bookmarks",
        operation_id=f"delete_bookmark{suffix}",
        summary="Remove a bookmark (no error when there is none)",
    )
    def delete_bookmark(
        request: Request, principal: UserDep, resource_identifier: Identifier
    ) -> Response:
        _bookmarks(request).remove(principal.subject, resource_identifier)
        return _json({"resource_identifier": resource_identifier, "deleted": True})

    return router
