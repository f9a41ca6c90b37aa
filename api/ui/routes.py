"""The UI's routes: ``/`` (search), ``/share``, and the two small JSON helpers the pages call
(``/ui/suggest`` while typing, ``/ui/validate/{type}`` for the share page's report)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from api.auth.principal import PrincipalDep, get_access
from api.deps import CatalogDep
from api.routes.assets import authorise_write, read_body
from api.routes.search import _load
from api.ui.account import account_router
from api.ui.derived_view import QualityFilters, search_with_derived
from api.ui.moderation import moderation_router
from api.ui.templating import HEADERS, STATIC, STATIC_PATH, render
from kg.access.rules import ANONYMOUS
from kg.catalog import Catalog
from kg.errors import CatalogError, ParseError
from kg.model.fields import ASSET_TYPES, AssetType
from kg.search.index import SearchIndex
from kg.search.text import name_of

MAX_SUGGESTIONS = 8
BODY_MEDIA = {
    "json": "application/json",
    "jsonld": "application/ld+json",
    "turtle": "text/turtle",
    "ntriples": "application/n-triples",
    "rdfxml": "application/rdf+xml",
}
MEDIA_FORMAT = {media: name for name, media in BODY_MEDIA.items()}
MEDIA_FORMAT.update({"text/plain": "ntriples", "application/xml": "rdfxml"})


def _html(page: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(page, status_code=status, headers=HEADERS)


def _json(value: object) -> Response:
    return Response(
        orjson.dumps(value), media_type="application/json", headers={"Cache-Control": "no-store"}
    )


def _search_index(request: Request) -> SearchIndex | None:
    return getattr(request.app.state, "search", None)


def _type_counts(request: Request) -> dict[str, int]:
    """Published assets per type (the page is the same for everyone)."""
    found = get_access(request).count_by_platform(ANONYMOUS)
    counts = {}
    for name in ASSET_TYPES:
        total = sum(found.get(name, {}).values())
        if total:
            counts[name] = total
    return counts


def _asset_type(name: str) -> AssetType:
    asset = ASSET_TYPES.get(name)
    if asset is None:
        raise HTTPException(404, f"Unknown asset type {name!r}; one of: {', '.join(ASSET_TYPES)}.")
    return asset


def validation_report(
    catalog: Catalog, asset: AssetType, raw: bytes, fmt_name: str
) -> dict[str, Any]:
    """Read a body like ``POST /{type}`` does, then check it as ``create`` would, without
    writing: ``{"valid", "type", "format", "croissant", "record", "problems", "conflict"}``."""
    from api.linked_data import croissant_body
    from api.negotiation import BY_NAME

    depth = catalog.settings.body_max_depth
    croissant = croissant_body(raw, depth) if fmt_name in ("json", "jsonld") else None
    if croissant is not None:
        asset = ASSET_TYPES["datasets"]  # a Croissant file describes a dataset
    report: dict[str, Any] = {
        "valid": False,
        "type": asset.collection,
        "format": fmt_name,
        "croissant": croissant is not None,
        "record": None,
        "problems": [],
        "conflict": None,
    }
    try:
        record = (
            croissant
            if croissant is not None
            else read_body(raw, BY_NAME[fmt_name], asset, catalog)
        )
    except ParseError as exc:
        if exc.status == 413:  # too many triples: as POST would answer
            raise
        detail = exc.detail if isinstance(exc.detail, dict) else {"message": str(exc)}
        report["problems"] = [
            {
                "field": "",
                "message": detail.get("message"),
                "line": detail.get("line"),
                "column": detail.get("column"),
                "value": None,
            }
        ]
        return report
    except CatalogError as exc:
        if exc.status == 413:  # too costly to read (time, memory)
            raise
        report["problems"] = [{"field": "", "message": str(exc.detail), "value": None}]
        return report
    report["record"] = record
    result = catalog.check(asset, record)
    report["problems"] = [_with_predicate(asset, p.as_dict()) for p in result.problems]
    report["conflict"] = result.conflict
    report["valid"] = not result.problems and result.conflict is None
    return report


def _with_predicate(asset: AssetType, problem: dict[str, Any]) -> dict[str, Any]:
    """The problem with the RDF predicate of its field (the share page finds it in Turtle)."""
    fields = asset.by_name
    predicate = None
    for part in str(problem.get("field") or "").split("."):
        fld = fields.get(part.split("[")[0])
        if fld is None:
            break
        predicate = fld.predicate
        if fld.node is None:
            break
        fields = fld.node.by_name
    return {**problem, "predicate": predicate}


def ui_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def home(
        request: Request,
        catalog: CatalogDep,
        q: Annotated[str, Query(max_length=500)] = "",
        type: Annotated[list[str] | None, Query()] = None,
        platform: Annotated[list[str] | None, Query()] = None,
        license: Annotated[list[str] | None, Query()] = None,
        keyword: Annotated[list[str] | None, Query()] = None,
        quality: Annotated[list[str] | None, Query()] = None,
        date_from: Annotated[str, Query()] = "",
        date_to: Annotated[str, Query()] = "",
        page: Annotated[int, Query(ge=1, le=5001)] = 1,
    ) -> HTMLResponse:
        def day(text: str) -> date | None:
            try:
                return date.fromisoformat(text) if text else None
            except ValueError:
                return None

        filters = QualityFilters(
            q.strip(),
            type or [],
            platform or [],
            license or [],
            keyword or [],
            day(date_from),
            day(date_to),
            page,
            quality=quality or [],
        )
        index = _search_index(request)
        view = None
        derived: dict[str, Any] = {}  # also on, quality badges and facet (issue 18)
        if index is not None:
            view, derived = search_with_derived(request, index, catalog, filters, _load)
        return _html(
            render(
                "search.html",
                page="search",
                filters=filters,
                view=view,
                counts=_type_counts(request),
                catalog_title=catalog.settings.catalog_title,
                **derived,
            )
        )

    @router.get("/ui/suggest")
    def suggest(
        request: Request, catalog: CatalogDep, q: Annotated[str, Query(max_length=200)] = ""
    ) -> Response:
        """Names and keywords that complete what was typed (public assets only)."""
        index = _search_index(request)
        if index is None or not q.strip():
            return _json({"query": q, "suggestions": []})
        from kg.search.suggest import suggest_keywords, suggest_names

        out: list[dict[str, Any]] = []
        for keyword in suggest_keywords(index, q, limit=3):
            out.append(
                {
                    "kind": "keyword",
                    "label": keyword.keyword,
                    "count": keyword.count,
                    "url": "/?" + "keyword=" + _quote(keyword.keyword),
                }
            )
        for hit in suggest_names(index, q, limit=MAX_SUGGESTIONS - len(out)):
            data = _load(catalog, hit.type, hit.identifier)
            if data is not None:
                out.append(
                    {
                        "kind": "asset",
                        "label": name_of(data),
                        "type": hit.type,
                        "identifier": hit.identifier,
                        "url": f"/{hit.type}/{hit.identifier}",
                    }
                )
        return _json({"query": q, "suggestions": out})

    @router.get("/share")
    def share(request: Request, catalog: CatalogDep) -> HTMLResponse:
        settings = catalog.settings
        return _html(
            render(
                "share.html",
                page="share",
                oidc_issuer=settings.oidc_issuer,
                max_bytes=settings.max_body_bytes,
                catalog_title=settings.catalog_title,
            )
        )

    @router.post("/ui/validate/{asset_type}")
    async def validate(
        request: Request, catalog: CatalogDep, principal: PrincipalDep, asset_type: str
    ) -> Response:
        """The share page's report: the body read and checked as ``POST /{type}`` would,
        nothing written, for a caller who may create this type (401/403 before the body is
        read). Parse errors are part of the report (with line and column); bodies too costly
        to read are 413."""
        asset = _asset_type(asset_type)
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        fmt_name = MEDIA_FORMAT.get(media or "application/json")
        if fmt_name is None:
            raise HTTPException(
                415,
                f"Unsupported Content-Type {media!r}; one of: {', '.join(BODY_MEDIA.values())}.",
            )
        # the caller must be one who could POST it: 401 / 403 before the body is read
        authorise_write(catalog, get_access(request), principal, asset)
        raw = await request.body()
        access = get_access(request)

        def check() -> dict[str, Any]:  # one trip to a worker thread (index reads included)
            report = validation_report(catalog, asset, raw, fmt_name)
            conflict = report.get("conflict")
            if conflict and not access.is_readable(principal, str(conflict)):
                # an asset the caller may not read: its existence is not theirs to learn
                report["conflict"] = None
                report["valid"] = not report["problems"]
            return report

        return _json(await run_in_threadpool(check))

    return router


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def install_ui(app: FastAPI) -> None:
    """Add the UI's routes and its static files to ``app``."""
    app.include_router(ui_router())
    app.include_router(account_router())  # sign-in, my assets, bookmarks, review queue
    app.include_router(moderation_router())  # proposed duplicates (issue 18)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:  # browsers ask every page's origin for it
        return Response(
            (STATIC / "favicon.svg").read_bytes(),
            media_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.mount(STATIC_PATH, StaticFiles(directory=str(STATIC)), name="ui-static")
