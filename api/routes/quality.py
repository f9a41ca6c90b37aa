"""Metadata quality (issue 18, kg/quality): ``GET /quality`` summarises the MQA-style scores
of the public assets per platform and type (averages, dimensions, ratings, the most common
problems, with advice) over the public assets (the book holds nothing else);
``GET /quality/assets/{identifier}`` is one asset's assessment: a public asset's from the book,
a draft's (or any non-public asset's) computed on request for those who may read it -- the
share page shows its advice before the draft is submitted -- and the same 404 as a missing
asset for anyone else. docs/quality.md explains the score."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, HTTPException, Query, Request
from starlette.responses import Response

from api.auth.guard import check_read
from api.auth.principal import PrincipalDep, get_access
from api.deps import CatalogDep
from kg.errors import NotFound
from kg.model.fields import ASSET_TYPES
from kg.model.identifiers import IDENTIFIER_RE
from kg.quality.book import QualityBook, report
from kg.quality.indicators import assess


def get_book(request: Request) -> QualityBook:
    linker = getattr(request.app.state, "linker", None)
    for follower in getattr(linker, "followers", ()):
        if isinstance(follower, QualityBook):
            return follower
    raise HTTPException(
        503, "Metadata quality is disabled on this server (AIOD_KG_LINKING_ENABLED)."
    )


def _json(value: object) -> Response:
    return Response(orjson.dumps(value), media_type="application/json")


def quality_router() -> APIRouter:
    router = APIRouter(tags=["quality"])

    @router.get(
        "/quality",
        operation_id="quality_summary",
        summary="Metadata quality per platform and type (MQA-style)",
        description="Average score (0..1) of the public assets, per dimension (findability, "
        "accessibility, interoperability, reusability, contextuality), the ratings (excellent, "
        "good, sufficient, bad), the averages per platform and type and the most common "
        "problems with advice. Indicators and points: docs/quality.md.",
    )
    def summary(
        request: Request,
        platform: Annotated[str | None, Query(max_length=200)] = None,
        type: Annotated[str | None, Query(description="An asset type, e.g. datasets.")] = None,
    ) -> Response:
        if type is not None and type not in ASSET_TYPES:
            raise HTTPException(
                422, f"Unknown asset type {type!r}; one of: {', '.join(ASSET_TYPES)}."
            )
        book = get_book(request)
        return _json({"platform": platform, "type": type, **book.summary(platform, type)})

    @router.get(
        "/quality/assets/{identifier}",
        operation_id="asset_quality",
        summary="The metadata quality of one asset",
        description="A public asset's assessment; a draft's (computed on request) for those "
        "who may read it, e.g. its owner before submitting it.",
    )
    def one(
        request: Request, catalog: CatalogDep, principal: PrincipalDep, identifier: str
    ) -> Response:
        book = get_book(request)
        found = book.get(identifier) if IDENTIFIER_RE.match(identifier) else None
        if found is not None:
            return _json(found)
        asset = catalog.type_of_identifier(identifier)
        entry = catalog.index.get(identifier) if asset is not None else None
        if asset is None or entry is None or not principal.authenticated:
            raise HTTPException(404, f"No public asset {identifier!r} has been assessed.")
        try:
            check_read(catalog, get_access(request), principal, asset, identifier)
        except NotFound as exc:
            raise HTTPException(404, f"No public asset {identifier!r} has been assessed.") from exc
        data = catalog.get(asset, identifier)
        found = report(identifier, asset.collection, entry.platform or "", assess(asset, data))
        return _json({**found, "status": entry.status})

    return router
