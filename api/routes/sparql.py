"""``/sparql``: the W3C SPARQL 1.1 Protocol on the public partition of the store.

* queries: ``GET ?query=``, ``POST`` form-encoded (``query=``) or ``application/sparql-query``;
  ``default-graph-uri`` / ``named-graph-uri``; the answer format by ``?format=`` or ``Accept``;
* updates: ``POST`` ``application/sparql-update`` or form ``update=``, admin only;
* ``GET /sparql`` without a query: the Service Description (Turtle, N-Triples, JSON-LD,
  RDF/XML) for machines, the query editor for browsers (also with ``?query=``).

Nothing of a query is parsed or run on the event loop or in this process: the text goes to a
killable, memory-capped worker process (``kg.sparql.service.SparqlService``) whose answer is
awaited on a pipe. Limits, dataset and policy are the service's.
"""

from __future__ import annotations

import threading
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response

from api.deps import require_admin, settings_of
from api.routes.sparql_editor import editor_page
from kg.catalog import Catalog
from kg.errors import CatalogError
from kg.formats.mediatypes import parse_accept
from kg.model.namespaces import PREFIXES
from kg.sparql.description import serialize_description, service_description
from kg.sparql.formats import GRAPH_FORMATS, Answer, negotiate
from kg.sparql.service import SparqlService

FORM = "application/x-www-form-urlencoded"
QUERY_MEDIA = "application/sparql-query"
UPDATE_MEDIA = "application/sparql-update"
_service_lock = threading.Lock()


def get_sparql(request: Request) -> SparqlService:
    """The app's ``SparqlService``, made on first use for the app's catalog."""
    catalog: Catalog = request.app.state.catalog
    service: SparqlService | None = getattr(request.app.state, "sparql", None)
    if service is None or service.store is not catalog.store:
        with _service_lock:
            service = getattr(request.app.state, "sparql", None)
            if service is None or service.store is not catalog.store:
                service = SparqlService(catalog.store, settings_of(request))
                request.app.state.sparql = service
    return service


def _wants_html(request: Request) -> bool:
    """A browser: ``text/html`` preferred over every RDF type (or ``?format=html``)."""
    requested = request.query_params.get("format")
    if requested:
        return requested.lower() == "html"
    best_html = best_rdf = 0.0
    for media, q, _ in parse_accept(request.headers.get("accept", "")):
        if media in ("text/html", "application/xhtml+xml"):
            best_html = max(best_html, q)
        elif media != "*/*":
            best_rdf = max(best_rdf, q)
    return best_html > 0 and best_html >= best_rdf


def _answer(answer: Answer) -> Response:
    return Response(
        answer.body,
        media_type=answer.media_type,
        headers={"Vary": "Accept", "Cache-Control": "no-store"},
    )


async def _run_query(
    request: Request, text: str, default_graphs: list[str], named_graphs: list[str]
) -> Response:
    service = get_sparql(request)
    answer = await service.query_async(
        text,
        accept=request.headers.get("accept"),
        fmt=",".join(request.query_params.getlist("format")) or None,
        default_graphs=default_graphs,
        named_graphs=named_graphs,
    )
    return _answer(answer)


async def _run_update(request: Request, text: str) -> Response:
    if not request.headers.get("authorization"):
        raise HTTPException(
            403, "SPARQL Update needs admin rights: Authorization: Bearer <AIOD_KG_ADMIN_KEY>."
        )
    require_admin(request, settings_of(request))
    service = get_sparql(request)
    await run_in_threadpool(service.update, text)
    return Response(status_code=204)


def _description(request: Request) -> Response:
    fmt = negotiate("graph", request.headers.get("accept"), request.query_params.get("format"))
    settings = settings_of(request)
    endpoint = settings.base + "/sparql"  # the configured base URL, never the Host header
    body = serialize_description(service_description(endpoint, settings), fmt)
    return Response(body, media_type=fmt.content_type, headers={"Vary": "Accept"})


def sparql_router() -> APIRouter:
    router = APIRouter(tags=["sparql"])

    @router.get(
        "/sparql",
        operation_id="sparql_get",
        summary="SPARQL 1.1 query (GET), service description or editor",
        response_class=Response,
        responses={
            200: {"content": {f.media_type: {} for f in GRAPH_FORMATS}},
            400: {"description": "Syntax error (with line and column)"},
            406: {"description": "No acceptable format"},
            503: {"description": "Time limit reached"},
        },
    )
    async def sparql_get(
        request: Request,
        query: Annotated[str | None, Query(description="The SPARQL query")] = None,
        default_graph_uri: Annotated[list[str] | None, Query(alias="default-graph-uri")] = None,
        named_graph_uri: Annotated[list[str] | None, Query(alias="named-graph-uri")] = None,
        format: Annotated[
            str | None,
            Query(description="json, xml, csv, tsv, turtle, ntriples, jsonld, rdfxml, html"),
        ] = None,
    ) -> Response:
        if "update" in request.query_params:
            raise HTTPException(400, "SPARQL Update must be sent with POST.")
        if query is None or _wants_html(request):
            if _wants_html(request):
                page, policy = editor_page(request.url.path, PREFIXES)
                return HTMLResponse(
                    page, headers={"Content-Security-Policy": policy, "Vary": "Accept"}
                )
            return _description(request)
        return await _run_query(request, query, default_graph_uri or [], named_graph_uri or [])

    @router.post(
        "/sparql",
        operation_id="sparql_post",
        summary="SPARQL 1.1 query or update (POST)",
        response_class=Response,
        openapi_extra={
            "requestBody": {
                "content": {
                    FORM: {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "query": {"type": "string"},
                                "update": {"type": "string"},
                                "default-graph-uri": {"type": "array", "items": {"type": "string"}},
                                "named-graph-uri": {"type": "array", "items": {"type": "string"}},
                            },
                        }
                    },
                    QUERY_MEDIA: {"schema": {"type": "string"}},
                    UPDATE_MEDIA: {"schema": {"type": "string"}},
                }
            }
        },
    )
    async def sparql_post(request: Request) -> Response:
        settings = settings_of(request)
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.max_body_bytes:
            raise HTTPException(413, f"Request body larger than {settings.max_body_bytes} bytes.")
        params = request.query_params
        if media not in (FORM, QUERY_MEDIA, UPDATE_MEDIA):
            raise HTTPException(
                415,
                f"Unsupported Content-Type {media!r}; use {FORM}, {QUERY_MEDIA} or {UPDATE_MEDIA}.",
            )
        body = await request.body()
        if len(body) > settings.max_body_bytes:
            raise HTTPException(413, f"Request body larger than {settings.max_body_bytes} bytes.")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CatalogError(f"The body is not UTF-8: {exc}") from exc
        if media == FORM:
            form: dict[str, list[str]] = {}
            for key, value in parse_qsl(text, keep_blank_values=True):
                form.setdefault(key, []).append(value)
            defaults = form.get("default-graph-uri", []) + params.getlist("default-graph-uri")
            named = form.get("named-graph-uri", []) + params.getlist("named-graph-uri")
            if "update" in form:
                return await _run_update(request, form["update"][-1])
            if "query" not in form:
                raise HTTPException(400, "The form has no 'query' (or 'update') field.")
            return await _run_query(request, form["query"][-1], defaults, named)
        if media == UPDATE_MEDIA:
            return await _run_update(request, text)
        return await _run_query(
            request, text, params.getlist("default-graph-uri"), params.getlist("named-graph-uri")
        )

    return router
