"""``/sparql``: the W3C SPARQL 1.1 Protocol on the public partition of the store.

* queries: ``GET ?query=``, ``POST`` form-encoded (``query=``) or ``application/sparql-query``;
  ``default-graph-uri`` / ``named-graph-uri``; the answer format by ``?format=`` or ``Accept``;
* updates: ``POST`` ``application/sparql-update`` or form ``update=``, admin only (checked
  before the body is read); ``using-graph-uri`` / ``using-named-graph-uri`` are refused (400),
  not ignored: write ``USING`` in the update;
* one operation per request: ``query`` or ``update`` given twice, both at once, or in the URL of a
  POST as well as its body is a 400, and so are percent-escapes that do not decode to UTF-8;
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


def _authorise_update(request: Request) -> None:
    """403 unless the caller holds the admin key (checked before an update's body is read)."""
    if not request.headers.get("authorization"):
        raise HTTPException(
            403, "SPARQL Update needs admin rights: Authorization: Bearer <AIOD_KG_ADMIN_KEY>."
        )
    require_admin(request, settings_of(request))


def _form_fields(encoded: str, where: str) -> dict[str, list[str]]:
    """The fields of a URL-encoded form or query string, each with every value it was given;
    400 when a percent-escape decodes to bytes that are not UTF-8 (the protocol's encoding)."""
    fields: dict[str, list[str]] = {}
    try:
        pairs = parse_qsl(encoded, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise CatalogError(f"The {where} is not UTF-8 once percent-decoded: {exc}") from exc
    for key, value in pairs:
        fields.setdefault(key, []).append(value)
    return fields


def _single(fields: dict[str, list[str]], name: str) -> str | None:
    """The one value of ``name`` (None when absent); 400 when it is given more than once: the
    protocol has one operation per request, and picking one of several would be a guess."""
    values = fields.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise HTTPException(400, f"'{name}' is given {len(values)} times; send exactly one.")
    return values[0]


def _refuse_using_graphs(fields: dict[str, list[str]]) -> None:
    """400 for the update protocol's ``using-graph-uri`` / ``using-named-graph-uri``, which this
    endpoint does not implement: ignoring them would run the update over every graph."""
    for name in ("using-graph-uri", "using-named-graph-uri"):
        if name in fields:
            raise HTTPException(
                400, f"'{name}' is not supported; put USING / USING NAMED in the update instead."
            )


async def _run_update(request: Request, text: str) -> Response:
    """Run an update whose caller ``_authorise_update`` has let through."""
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
        fields = _form_fields(request.url.query, "query string")
        query = _single(fields, "query")
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
        url_fields = _form_fields(request.url.query, "query string")
        for name in ("query", "update"):
            if name in url_fields:  # the operation travels in the body of a POST, never both
                raise HTTPException(
                    400, f"A POST carries its {name} in the body, not in the URL's query string."
                )
        if media == UPDATE_MEDIA:
            _authorise_update(request)  # who may do it, before the body is read
            _refuse_using_graphs(url_fields)
        body = await request.body()
        if len(body) > settings.max_body_bytes:
            raise HTTPException(413, f"Request body larger than {settings.max_body_bytes} bytes.")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CatalogError(f"The body is not UTF-8: {exc}") from exc
        if media == FORM:
            form = _form_fields(text, "form")
            update, query = _single(form, "update"), _single(form, "query")
            if update is not None and query is not None:
                raise HTTPException(400, "A request is a query or an update, not both.")
            defaults = form.get("default-graph-uri", []) + params.getlist("default-graph-uri")
            named = form.get("named-graph-uri", []) + params.getlist("named-graph-uri")
            if update is not None:
                _authorise_update(request)
                _refuse_using_graphs(form | url_fields)
                return await _run_update(request, update)
            if query is None:
                raise HTTPException(400, "The form has no 'query' (or 'update') field.")
            return await _run_query(request, query, defaults, named)
        if media == UPDATE_MEDIA:
            return await _run_update(request, text)
        return await _run_query(
            request, text, params.getlist("default-graph-uri"), params.getlist("named-graph-uri")
        )

    return router
