"""Search: the AIoD contract ``/search/{type}``, hybrid ``/search`` with facets and highlights,
and ``/{type}/{identifier}/similar``. The index lives in ``kg.search``; this only translates."""

from __future__ import annotations

import threading
from datetime import date
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, HTTPException, Query, Request
from starlette.responses import Response

from api.auth.guard import readable
from api.auth.principal import PrincipalDep, get_access
from api.deps import CatalogDep
from kg.catalog import Catalog
from kg.errors import NotFound
from kg.linking.linker import Linker
from kg.model.fields import ASSET_TYPES, AssetType
from kg.search.index import Mode, SearchIndex, SearchQuery
from kg.search.ranking import group_by_work
from kg.search.text import description_of, name_of
from kg.settings import Settings
from kg.store.partition import is_public_status
from kg.sync.view import in_view, origin

LIMIT_MAX = 1000
# AIoD's search_fields -> our lexical fields
AIOD_FIELDS = {
    "name": "name",
    "description_plain": "description",
    "description_html": "description",
    "plain": "description",
    "html": "description",
    "description": "description",
    "keyword": "keywords",
    "issn": "text",
}


def get_search(request: Request) -> SearchIndex:
    index: SearchIndex | None = getattr(request.app.state, "search", None)
    if index is None:
        raise HTTPException(503, "Search is disabled on this server (AIOD_KG_SEARCH_ENABLED).")
    if not index.ready:  # an incomplete index would answer a wrong (empty) success
        done = index.progress()
        raise HTTPException(
            503,
            f"The search index is catching up with the catalogue ({done['indexed']} of "
            f"{done['total'] if done['total'] is not None else '?'} assets); retry shortly "
            "(GET /health shows its progress).",
            headers={"Retry-After": "5"},
        )
    return index


def _asset_type(name: str) -> AssetType:
    asset = ASSET_TYPES.get(name)
    if asset is None:
        raise HTTPException(404, f"Unknown asset type {name!r}; one of: {', '.join(ASSET_TYPES)}.")
    return asset


def _json(value: object) -> Response:
    return Response(orjson.dumps(value), media_type="application/json")


def _ordinal(value: date | None) -> int | None:
    return value.toordinal() if value is not None else None


def _indexed_view(data: dict[str, Any]) -> dict[str, Any]:
    """What AIoD's search returns without ``get_all``: the indexed fields only."""
    entry = data.get("aiod_entry") or {}
    description = data.get("description")
    view = {
        "identifier": data.get("identifier"),
        "platform": data.get("platform"),
        "platform_resource_identifier": data.get("platform_resource_identifier"),
        "name": data.get("name"),
        "description": description if isinstance(description, dict) else None,
        "aiod_entry": {"date_modified": entry.get("date_modified"), "status": entry.get("status")},
    }
    for extra in ("issn", "keyword", "license"):
        if extra in data:
            view[extra] = data[extra]
    return view


# Filters AIoD's search takes beside the text (exact_match, date_modified_after/before, sort)
# are applied to the best CANDIDATES hits of the ranking, then paged: totals are bounded by it.
CANDIDATES = 1000


def _texts(data: dict[str, Any], fields: list[str]) -> list[str]:
    """The texts ``exact_match`` looks in: the requested AIoD search fields, or all of them."""
    description = data.get("description") if isinstance(data.get("description"), dict) else {}
    assert isinstance(description, dict)
    found = {
        "name": data.get("name"),
        "issn": data.get("issn"),
        "description_plain": description.get("plain"),
        "description_html": description.get("html"),
    }
    names = fields or list(found)
    return [str(found[n]).casefold() for n in names if found.get(n)]


def _modified(data: dict[str, Any], key: str = "date_modified") -> str:
    entry = data.get("aiod_entry")
    return str(entry.get(key) or "") if isinstance(entry, dict) else ""


def _sort_key(data: dict[str, Any], sort: str) -> str:
    if sort in ("date_modified", "date_created"):
        return _modified(data, sort)
    return str(data.get(sort) or "").casefold()


def _load(catalog: Catalog, asset_type: str, identifier: str) -> dict[str, Any] | None:
    asset = ASSET_TYPES.get(asset_type)
    if asset is None:
        return None
    try:
        data = catalog.get(asset, identifier)
    except NotFound:  # deleted since it was indexed
        return None
    entry = data.get("aiod_entry")
    if isinstance(entry, dict) and not is_public_status(entry.get("status")):
        return None  # made non-public since it was indexed (kg/access/rules.py)
    return data


def _alone(identifier: str) -> list[str]:
    return [identifier]


def _same_work(linker: Linker | None, base: str, others: list[str]) -> dict[str, Any]:
    """``also_on`` (the platforms of the other records of the hit's work) and ``same_work``
    (those records), from the link index (public assets only)."""
    records = []
    for other in others:
        found = linker.index.asset(other) if linker is not None else None
        if found is not None:
            kind, platform, name = found
            records.append(
                {
                    "identifier": other,
                    "type": kind,
                    "platform": platform,
                    "name": name,
                    "url": f"{base}/{kind}/{other}",
                }
            )
    return {
        "also_on": sorted({r["platform"] for r in records if r["platform"]}),
        "same_work": records,
    }


def search_router(suffix: str = "") -> APIRouter:
    router = APIRouter(tags=["search"])

    @router.get(
        "/search/{asset_type}",
        operation_id=f"search_assets{suffix}",
        summary="Search assets of one type (AIoD contract)",
        description="Relevance-ranked (hybrid BM25 + semantic) search of one asset type. "
        "`search_fields` restricts matching to those fields (lexical). `get_all=true` returns "
        "full assets, otherwise the indexed fields.",
    )
    def search_type(
        request: Request,
        catalog: CatalogDep,
        asset_type: str,
        search_query: Annotated[str, Query(description="Text to find.")] = "",
        search_fields: Annotated[list[str] | None, Query()] = None,
        platforms: Annotated[list[str] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=LIMIT_MAX)] = 10,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
        get_all: Annotated[bool, Query()] = False,
        exact_match: Annotated[bool, Query(description="The whole query as one phrase.")] = False,
        date_modified_after: Annotated[date | None, Query()] = None,
        date_modified_before: Annotated[date | None, Query()] = None,
        sort: Annotated[
            Literal["name", "date_modified", "date_created", "identifier"] | None,
            Query(description="Order (default: relevance)."),
        ] = None,
        direction: Annotated[Literal["asc", "desc"], Query()] = "asc",
    ) -> Response:
        asset = _asset_type(asset_type)
        index = get_search(request)
        fields: list[str] = []
        for name in search_fields or []:
            if name not in AIOD_FIELDS:
                raise HTTPException(
                    422, f"Unknown search field {name!r}; one of: {', '.join(AIOD_FIELDS)}."
                )
            fields.append(AIOD_FIELDS[name])
        filtered = bool(exact_match or date_modified_after or date_modified_before or sort)
        query = SearchQuery(
            search_query,
            types=[asset.collection],
            platforms=platforms or (),
            offset=0 if filtered else offset,
            limit=CANDIDATES if filtered else limit,
            fields=list(dict.fromkeys(fields)),
        )
        results = index.search(query)
        loaded = [_load(catalog, hit.type, hit.identifier) for hit in results.hits]
        found = [data for data in loaded if data is not None]
        total = results.total
        if filtered:
            phrase = search_query.strip().casefold()
            after = date_modified_after.isoformat() if date_modified_after else None
            before = date_modified_before.isoformat() if date_modified_before else None
            found = [
                d
                for d in found
                if (not exact_match or any(phrase in t for t in _texts(d, search_fields or [])))
                and (after is None or _modified(d)[:10] >= after)
                and (before is None or _modified(d)[:10] <= before)
            ]
            if sort is not None:
                found.sort(key=lambda d: _sort_key(d, sort), reverse=direction == "desc")
            total = len(found)
            found = found[offset : offset + limit]
        resources = [data if get_all else _indexed_view(data) for data in found]
        body: dict[str, Any] = {
            "total_hits": total,
            "resources": resources,
            "limit": limit,
            "offset": offset,
        }
        if results.capped:  # more hits may lie beyond the candidate pool (kg/search/ranking.py)
            body["total_hits_is_lower_bound"] = True
        return _json(body)

    @router.get(
        "/search",
        operation_id=f"search{suffix}",
        summary="Search all assets: scores, facets, highlighted matches",
        description="Hybrid search over every asset type. Repeat a filter to allow several "
        "values. Facet counts are over the matching candidates. `mode` compares the hybrid "
        "ranking with its lexical (BM25) and dense (embedding) parts.",
    )
    def search_all(
        request: Request,
        catalog: CatalogDep,
        q: Annotated[str, Query(description="Text to find; empty lists the filtered assets.")] = "",
        type: Annotated[list[str] | None, Query(description="Asset types, e.g. datasets.")] = None,
        platform: Annotated[list[str] | None, Query()] = None,
        keyword: Annotated[list[str] | None, Query()] = None,
        license: Annotated[list[str] | None, Query()] = None,
        date_from: Annotated[date | None, Query(description="Published on or after.")] = None,
        date_to: Annotated[date | None, Query(description="Published on or before.")] = None,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=LIMIT_MAX)] = 10,
        mode: Annotated[Mode, Query()] = "hybrid",
        facets: Annotated[bool, Query()] = True,
        get_all: Annotated[bool, Query(description="Include the full assets.")] = False,
    ) -> Response:
        index = get_search(request)
        for name in type or []:
            _asset_type(name)
        query = SearchQuery(
            q,
            types=type or (),
            platforms=platform or (),
            keywords=keyword or (),
            licenses=license or (),
            date_from=_ordinal(date_from),
            date_to=_ordinal(date_to),
            offset=offset,
            limit=limit,
            mode=mode,
        )
        results = index.search(query, facets=facets)
        items = []
        base = catalog.base_url
        # one hit per work (kg/linking): the others of its work in "also_on" / "same_work"
        linker = getattr(request.app.state, "linker", None)
        for hit, others in group_by_work(results.hits, linker.work if linker else _alone):
            data = _load(catalog, hit.type, hit.identifier)
            if data is None or not in_view(catalog.settings, data.get("platform")):
                continue  # (a node's local view leaves the mirrored central catalogue out)
            name = name_of(data)
            item: dict[str, Any] = {
                "identifier": hit.identifier,
                "type": hit.type,
                "name": name,
                "url": f"{base}/{hit.type}/{hit.identifier}",
                "score": hit.score,
                "scores": {"dense": hit.dense, "labels": hit.labels, "lexical": hit.lexical},
                **_same_work(linker, base, others),
                **origin(catalog.settings, data.get("platform")),  # node or central (kg/sync)
            }
            if q.strip():
                description = description_of(data)
                item["highlight"] = {
                    "name": index.highlight(q, name, 500),
                    "description": index.highlight(q, description),
                }
            if get_all:
                item["asset"] = data
            items.append(item)
        body: dict[str, Any] = {
            "query": q,
            "total_hits": results.total,
            "offset": offset,
            "limit": limit,
            "items": items,
        }
        if results.capped:  # more hits may lie beyond the candidate pool (kg/search/ranking.py)
            body["total_hits_is_lower_bound"] = True
        if facets:
            body["facets"] = results.facets
        return _json(body)

    @router.get(
        "/{asset_type}/{identifier}/similar",
        operation_id=f"similar_assets{suffix}",
        summary="Assets similar to this one (more like this)",
    )
    def similar(
        request: Request,
        catalog: CatalogDep,
        principal: PrincipalDep,
        asset_type: str,
        identifier: str,
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
        type: Annotated[list[str] | None, Query(description="Only these asset types.")] = None,
    ) -> Response:
        asset = _asset_type(asset_type)
        index = get_search(request)
        # the same 404 as a missing asset unless the caller may read it (kg/access/rules.py)
        facts = readable(catalog, get_access(request), principal, asset, identifier)
        hits = index.similar(identifier, limit, types=type or ())
        if hits is None:
            if not facts.public:  # the caller may read it: no secret that it exists
                raise HTTPException(
                    404,
                    f"{asset.label} '{identifier}' is not published; only "
                    "published assets are searchable.",
                )
            raise HTTPException(404, f"{asset.label} '{identifier}' is not in the search index.")
        items = []
        for hit in hits:
            data = _load(catalog, hit.type, hit.identifier)
            if data is not None:
                items.append(
                    {
                        "identifier": hit.identifier,
                        "type": hit.type,
                        "name": name_of(data),
                        "score": hit.score,
                    }
                )
        return _json({"identifier": identifier, "items": items})

    return router


def start_search(settings: Settings, catalog: Catalog) -> SearchIndex | None:
    """Open the search index beside the store and attach it to the catalog (the index is
    reconciled with the store and the models load in the background: start-up is not held)."""
    if not settings.search_enabled:
        return None
    from kg.search.index import open_index

    index = open_index(settings, catalog)
    if settings.search_warmup:
        threading.Thread(target=index.warm_up, name="search-warmup", daemon=True).start()
    return index
