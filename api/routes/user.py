"""``GET /user/resources``: the assets the caller administers, in every status (AIoD's shape:
one list per asset type), paged per type; ``asset_type`` narrows it to one type."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, HTTPException, Query, Request
from starlette.responses import Response

from api.auth.principal import UserDep, get_access
from api.deps import CatalogDep
from kg.access.owned import administered_where
from kg.model.fields import ASSET_TYPES
from kg.model.private import has_private


def user_router() -> APIRouter:
    router = APIRouter(tags=["user"])

    @router.get(
        "/user/resources",
        operation_id="user_resources",
        summary="The assets you own or administer, in every status, one list per type",
    )
    def user_resources(
        request: Request,
        catalog: CatalogDep,
        principal: UserDep,
        asset_type: Annotated[str | None, Query(max_length=100)] = None,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Response:
        if asset_type is not None and asset_type not in ASSET_TYPES:
            raise HTTPException(404, f"Unknown asset type '{asset_type}'.")
        index = get_access(request).index
        condition = administered_where(principal)
        limit = min(limit, catalog.settings.max_page_size)
        parts = []
        for collection in [asset_type] if asset_type else list(ASSET_TYPES):
            entries = index.page(collection, offset, limit, condition=condition)
            asset = ASSET_TYPES[collection]
            documents = [
                orjson.dumps(catalog.full(asset, e.identifier))  # one's own contact details
                if has_private(asset)
                else e.document or catalog.document(asset, e.identifier)
                for e in entries
            ]
            parts.append(orjson.dumps(collection) + b":[" + b",".join(documents) + b"]")
        return Response(b"{" + b",".join(parts) + b"}", media_type="application/json")

    return router
