"""Harvesting and discovery: the DCAT-AP catalogue, VoID, the sitemap and the full dump."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import iterate_in_threadpool
from starlette.responses import Response, StreamingResponse

from api.deps import CatalogDep
from api.negotiation import choose_format
from kg.publishing.dcat_ap import serialize
from kg.publishing.publisher import Publisher

RDF_MEDIA = {
    "turtle": "text/turtle",
    "rdfxml": "application/rdf+xml",
    "ntriples": "application/n-triples",
    "jsonld": "application/ld+json",
}


def get_publisher(request: Request) -> Publisher:
    """One ``Publisher`` per application (it creates its index on first use)."""
    state = request.app.state
    publisher: Publisher | None = getattr(state, "publisher", None)
    if publisher is None or publisher.catalog is not state.catalog:
        publisher = Publisher(state.catalog)
        state.publisher = publisher
    return publisher


def utc_timestamp(value: datetime | None) -> str | None:
    """A query datetime as the index writes them: UTC, seconds, no zone suffix."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S")


def rdf_format(request: Request) -> str:
    fmt = choose_format(request, default="turtle").name
    return "jsonld" if fmt == "json" else fmt


def publishing_router() -> APIRouter:
    router = APIRouter(tags=["linked data"])

    @router.get(
        "/catalog",
        operation_id="dcat_catalog",
        summary="DCAT-AP 3 catalogue, paged with Hydra",
        description=(
            "The public datasets, ML models and services as a DCAT-AP 3.0.1 catalogue. "
            "Every page is self-contained and carries a `hydra:PartialCollectionView` with "
            "`hydra:first/next/previous/last` and `hydra:totalItems`. Turtle (default), "
            "RDF/XML, JSON-LD or N-Triples by `Accept` or `?format=`."
        ),
        responses={200: {"content": {m: {} for m in RDF_MEDIA.values()}}},
    )
    def dcat_catalog(
        request: Request,
        catalog: CatalogDep,
        page: Annotated[int, Query(ge=1, le=10**7)] = 1,
        page_size: Annotated[int | None, Query(ge=1, le=10_000)] = None,
        modified_since: Annotated[datetime | None, Query()] = None,
        after: Annotated[int | None, Query(ge=0, description="Keyset hint of next links.")] = None,
        total: Annotated[
            int | None, Query(ge=0, description="Count carried by next links.")
        ] = None,
        format: Annotated[str | None, Query()] = None,
    ) -> Response:
        fmt = rdf_format(request)
        result = get_publisher(request).catalog_page(
            page, page_size, utc_timestamp(modified_since), after, total
        )
        return Response(
            serialize(result.triples, fmt), media_type=RDF_MEDIA[fmt], headers={"Vary": "Accept"}
        )

    @router.get(
        "/.well-known/void",
        operation_id="void",
        summary="VoID description",
        responses={200: {"content": {m: {} for m in RDF_MEDIA.values()}}},
    )
    def void(
        request: Request, catalog: CatalogDep, format: Annotated[str | None, Query()] = None
    ) -> Response:
        fmt = rdf_format(request)
        body = serialize(get_publisher(request).void(), fmt)
        return Response(body, media_type=RDF_MEDIA[fmt], headers={"Vary": "Accept"})

    @router.get(
        "/sitemap.xml",
        operation_id="sitemap",
        summary="Sitemap of landing pages",
        responses={200: {"content": {"application/xml": {}}}},
    )
    def sitemap(
        request: Request,
        catalog: CatalogDep,
        part: Annotated[
            int | None, Query(ge=1, le=10**7, description="Part of a sitemap index.")
        ] = None,
    ) -> StreamingResponse:
        return StreamingResponse(
            iterate_in_threadpool(get_publisher(request).sitemap(part)),
            media_type="application/xml",
        )

    @router.get(
        "/dumps/catalog.nq.gz",
        operation_id="dump",
        summary="Full dump (N-Quads, gzip)",
        description="Every public asset graph as N-Quads (graph = asset IRI), streamed.",
        responses={200: {"content": {"application/gzip": {}}}},
    )
    def dump(request: Request, catalog: CatalogDep) -> StreamingResponse:
        return StreamingResponse(
            iterate_in_threadpool(get_publisher(request).dump_nquads_gz()),
            media_type="application/gzip",
            headers={"Content-Disposition": 'attachment; filename="catalog.nq.gz"'},
        )

    return router
