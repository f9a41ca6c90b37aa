"""OAI-PMH 2.0 at ``/oai`` (GET with a query, or POST with a form), by ``kg.publishing.oai``."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.routes.publishing import get_publisher
from kg.publishing.oai import OaiProvider

DESCRIPTION = (
    "OAI-PMH 2.0 data provider: Identify, ListMetadataFormats, ListSets, GetRecord, "
    "ListIdentifiers, ListRecords. Formats `oai_dc`, `oai_datacite` (DataCite kernel 4, set "
    "`openaire_data`) and `dcat_ap` (RDF/XML); sets `type:<collection>`, `platform:<name>`; "
    "persistent deleted records; second granularity."
)


def get_provider(request: Request) -> OaiProvider:
    publisher = get_publisher(request)
    provider: OaiProvider | None = getattr(request.app.state, "oai_provider", None)
    if provider is None or provider.publisher is not publisher:
        provider = OaiProvider(publisher)
        request.app.state.oai_provider = provider
    return provider


def _xml(body: str) -> Response:
    return Response(body.encode("utf-8"), media_type="text/xml; charset=utf-8")


def oai_router() -> APIRouter:
    router = APIRouter(tags=["linked data"])

    @router.get(
        "/oai",
        operation_id="oai_pmh",
        summary="OAI-PMH 2.0",
        description=DESCRIPTION,
        responses={200: {"content": {"text/xml": {}}}},
    )
    async def oai_get(request: Request) -> Response:
        arguments = parse_qs(request.url.query, keep_blank_values=True)
        return _xml(await run_in_threadpool(get_provider(request).handle, arguments))

    @router.post(
        "/oai",
        operation_id="oai_pmh_post",
        summary="OAI-PMH 2.0 (form POST)",
        description=DESCRIPTION,
        responses={200: {"content": {"text/xml": {}}}},
    )
    async def oai_post(request: Request) -> Response:
        body = (await request.body()).decode("utf-8", errors="replace")
        arguments = parse_qs(body, keep_blank_values=True)
        return _xml(await run_in_threadpool(get_provider(request).handle, arguments))

    return router
