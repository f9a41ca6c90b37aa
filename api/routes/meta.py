"""Counts, platform lookups, the JSON-LD context and the health check."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from api.auth.guard import check_read, check_read_off_loop, visible_page
from api.auth.principal import PrincipalDep, get_access
from api.deps import CatalogDep
from api.negotiation import choose_format
from kg.errors import NotFound
from kg.formats.representation import inline_context, render_many, render_one
from kg.model.fields import ASSET_TYPES, AssetType
from kg.model.taxonomies import TAXONOMY_FILES, taxonomy


def _asset_type(name: str) -> AssetType:
    asset = ASSET_TYPES.get(name)
    if asset is None:
        raise HTTPException(404, f"Unknown asset type {name!r}; one of: {', '.join(ASSET_TYPES)}.")
    return asset


def _json(value: object) -> Response:
    return Response(orjson.dumps(value), media_type="application/json")


#: the types /counts lists, as the AIoD REST API's ``/counts`` lists its concepts: every type
#: whose records name a platform (not ``platforms``, the records that name the platforms)
COUNTED = tuple(name for name, asset in ASSET_TYPES.items() if "platform" in asset.by_name)


def _per_platform(found: dict[str, int]) -> dict[str, int]:
    """Counts per platform, a record without one under ``aiod`` (as the AIoD REST API does)."""
    named = {platform or "aiod": 0 for platform in found}
    for platform, count in found.items():
        named[platform or "aiod"] += count
    return named


def meta_router(suffix: str = "") -> APIRouter:
    router = APIRouter()

    @router.get(
        "/counts",
        operation_id=f"counts{suffix}",
        tags=["counts"],
        summary="Number of assets of every type, per platform",
    )
    def counts(request: Request, catalog: CatalogDep, principal: PrincipalDep) -> Response:
        # what the caller may read: anonymous callers count published assets only
        found = get_access(request).count_by_platform(principal)
        return _json({name: _per_platform(found[name]) for name in COUNTED if found.get(name)})

    @router.get(
        "/counts/{asset_type}",
        operation_id=f"count_type{suffix}",
        tags=["counts"],
        summary="Number of assets of one type (per platform with detailed=true)",
    )
    def count_type(
        request: Request,
        catalog: CatalogDep,
        principal: PrincipalDep,
        asset_type: str,
        detailed: Annotated[bool, Query()] = False,
    ) -> Response:
        asset = _asset_type(asset_type)
        access = get_access(request)
        if detailed:
            found = access.count_by_platform(principal, asset.collection)
            return _json(_per_platform(found.get(asset.collection, {})))
        return _json(access.count(principal, asset.collection))

    @router.get(
        "/platforms/{platform}/{asset_type}",
        operation_id=f"list_platform_assets{suffix}",
        tags=["platforms"],
        summary="Assets of one type harvested from one platform",
    )
    def platform_assets(
        request: Request,
        catalog: CatalogDep,
        principal: PrincipalDep,
        platform: str,
        asset_type: str,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 10,
        format: Annotated[str | None, Query()] = None,
    ) -> Response:
        asset = _asset_type(asset_type)
        fmt = choose_format(request)
        limit = min(limit, catalog.settings.max_page_size)
        documents = visible_page(
            catalog, get_access(request), principal, asset, offset, limit, platform=platform
        )
        items = [dict(orjson.loads(d)) for d in documents]
        return Response(
            render_many(catalog, asset, items, fmt.name),
            media_type=fmt.media_type,
            headers={"Vary": "Accept"},
        )

    @router.get(
        "/platforms/{platform}/{asset_type}/{platform_resource_identifier:path}",
        operation_id=f"get_platform_asset{suffix}",
        tags=["platforms"],
        summary="One asset by its identifier on its platform",
    )
    def platform_asset(
        request: Request,
        catalog: CatalogDep,
        principal: PrincipalDep,
        platform: str,
        asset_type: str,
        platform_resource_identifier: str,
        format: Annotated[str | None, Query()] = None,
    ) -> Response:
        asset = _asset_type(asset_type)
        fmt = choose_format(request)
        entry = get_access(request).find_platform(
            principal, asset.collection, platform, platform_resource_identifier
        )
        if entry is None:  # missing or not readable by the caller: the same answer
            raise NotFound(
                f"{asset.label} '{platform_resource_identifier}' of platform '{platform}' "
                "not found in the database."
            )
        body = render_one(catalog, asset, entry.identifier, fmt.name)
        return Response(body, media_type=fmt.media_type, headers={"Vary": "Accept"})

    for taxonomy_name in TAXONOMY_FILES:

        def make(name: str) -> Any:
            def terms() -> Response:
                return _json(taxonomy(name))

            return terms

        router.add_api_route(
            f"/{taxonomy_name}",
            make(taxonomy_name),
            methods=["GET"],
            operation_id=f"taxonomy_{taxonomy_name}{suffix}",
            tags=["taxonomies"],
            summary=f"The {taxonomy_name.replace('_', ' ')} taxonomy",
        )

    @router.get(
        "/assets/{identifier}",
        operation_id=f"get_any_asset{suffix}",
        tags=["assets"],
        summary="Any asset by its identifier (the type comes from the identifier's prefix)",
    )
    async def any_asset(
        request: Request,
        catalog: CatalogDep,
        principal: PrincipalDep,
        identifier: str,
        format: Annotated[str | None, Query()] = None,
    ) -> Response:
        asset = catalog.type_of_identifier(identifier)
        if asset is None:
            raise HTTPException(404, f"Asset '{identifier}' not found in the database.")
        await check_read_off_loop(catalog, get_access(request), principal, asset, identifier)
        fmt = choose_format(request)
        body = await run_in_threadpool(render_one, catalog, asset, identifier, fmt.name)
        return Response(body, media_type=fmt.media_type, headers={"Vary": "Accept"})

    @router.get(
        "/{asset_type}/{identifier}/content",
        operation_id=f"get_content{suffix}",
        tags=["assets"],
        summary="Download the asset's first distribution (a redirect to its content URL)",
        status_code=307,
    )
    @router.get(
        "/{asset_type}/{identifier}/content/{distribution_idx}",
        operation_id=f"get_content_of_distribution{suffix}",
        tags=["assets"],
        summary="Download one distribution of the asset (a redirect to its content URL)",
        status_code=307,
    )
    def content(
        request: Request,
        catalog: CatalogDep,
        principal: PrincipalDep,
        asset_type: str,
        identifier: str,
        distribution_idx: int = 0,
    ) -> Response:
        asset = _asset_type(asset_type)
        check_read(catalog, get_access(request), principal, asset, identifier)
        data = catalog.get(asset, identifier)
        distributions = data.get("distribution") or []
        if not 0 <= distribution_idx < len(distributions):
            raise HTTPException(
                404,
                f"{asset.label} '{identifier}' has no distribution {distribution_idx} "
                f"(it has {len(distributions)}).",
            )
        url = distributions[distribution_idx].get("content_url")
        if not url:
            raise HTTPException(404, "That distribution has no content_url.")
        return RedirectResponse(url, status_code=307)

    return router


def root_router() -> APIRouter:
    router = APIRouter()

    @router.get(
        "/context.jsonld",
        operation_id="jsonld_context",
        tags=["meta"],
        summary="The JSON-LD context of the REST JSON",
    )
    def context() -> Response:
        return Response(
            orjson.dumps({"@context": inline_context()}), media_type="application/ld+json"
        )

    @router.get(
        "/health",
        operation_id="health",
        tags=["meta"],
        summary="Liveness check",
        description='`{"status": "ok"}`; while the search index catches up with the '
        "catalogue (search answers 503 until then) also `search`: its progress (`ready`, "
        "`indexed` of `total`, `documents`, `queued`).",
    )
    async def health(request: Request) -> Response:
        search = getattr(request.app.state, "search", None)
        if search is None or search.ready:
            return Response(b'{"status":"ok"}', media_type="application/json")
        # read without locks: never waits for the indexer
        return _json({"status": "ok", "search": search.progress()})

    return router
