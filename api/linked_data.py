"""Dereferenceable asset IRIs: content negotiation beyond the REST formats, conditional GETs,
HTML landing pages (with schema.org JSON-LD) and Croissant.

``asset_response`` answers ``GET /{collection}/{identifier}``:

* ``?format=`` beats ``Accept``; ``text/html`` (browsers) gets the landing page, while ``*/*``
  (curl, the AIoD SDK) and no ``Accept`` keep getting AIoD JSON;
* ``application/ld+json; profile="http://mlcommons.org/croissant/1.1"`` or ``?format=croissant``
  gets Croissant (datasets);
* every answer carries ``Vary: Accept``, an ``ETag`` (per asset version and format) and
  ``Last-Modified``; ``If-None-Match`` / ``If-Modified-Since`` give ``304``.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import orjson
from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.negotiation import BY_MEDIA, BY_NAME, Format, choose_format
from api.routes.publishing import get_publisher
from kg import __version__
from kg.catalog import Catalog
from kg.errors import ParseError
from kg.formats.croissant import PROFILE as CROISSANT_PROFILE
from kg.formats.croissant import from_croissant, is_croissant, to_croissant
from kg.formats.mediatypes import parse_accept
from kg.formats.rdf_input import MAX_DEPTH, load_json
from kg.formats.records import PublicRecord
from kg.formats.representation import render_one
from kg.formats.schema_org import schema_org
from kg.model.fields import AssetType
from kg.publishing.publisher import http_date
from kg.store.index import Entry
from kg.store.public_index import Row

HTML = Format("html", "text/html", ("htm",))
CROISSANT = Format("croissant", f'application/ld+json; profile="{CROISSANT_PROFILE}"')
EXTRA = {"html": HTML, "htm": HTML, "croissant": CROISSANT}
ALTERNATES = ("jsonld", "turtle", "rdfxml", "ntriples")
_DATE_MODIFIED = re.compile(rb'"date_modified":\s*"([0-9T:\-]{19})')


def negotiate(request: Request, asset: AssetType) -> Format:
    """The representation of one asset a request asks for."""
    croissant_ok = asset.collection == "datasets"
    requested = (request.query_params.get("format") or "").lower()
    if requested:
        fmt = EXTRA.get(requested)
        if fmt is CROISSANT and not croissant_ok:
            raise HTTPException(400, "Croissant is available for datasets only.")
        return fmt or choose_format(request)
    header = request.headers.get("accept", "")
    for media, q, params in parse_accept(header):
        if q <= 0:
            continue
        if (
            media == "application/ld+json"
            and "mlcommons.org/croissant" in params.get("profile", "")
            and croissant_ok
        ):
            return CROISSANT
        if media in ("text/html", "application/xhtml+xml"):
            return HTML
        if media in ("*/*", "application/*"):
            return BY_NAME["json"]
        if media in BY_MEDIA:
            return BY_MEDIA[media]
    return choose_format(request)  # no Accept: JSON; nothing acceptable: 406


def _etag(identifier: str, modified: str, fmt: Format) -> str:
    digest = hashlib.blake2b(
        f"{identifier}|{modified}|{fmt.name}|{__version__}".encode(), digest_size=12
    ).hexdigest()
    return f'"{digest}"'


def _not_modified(request: Request, etag: str, modified: str | None) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or etag in tags
    since = request.headers.get("if-modified-since")
    if since and modified:
        try:
            limit = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        if limit.tzinfo is None:
            limit = limit.replace(tzinfo=UTC)
        stamp = datetime.strptime(modified[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
        return stamp <= limit
    return False


def _headers(iri: str, etag: str, modified: str | None) -> dict[str, str]:
    links = ", ".join(
        f'<{iri}?format={name}>; rel="alternate"; type="{BY_NAME[name].media_type}"'
        for name in ALTERNATES
    )
    headers = {"Vary": "Accept", "ETag": etag, "Link": links}
    if modified:
        headers["Last-Modified"] = http_date(modified)
    return headers


async def asset_get(
    request: Request, catalog: Catalog, asset: AssetType, identifier: str, entry: Entry
) -> Response:
    """``GET /{collection}/{identifier}``: AIoD JSON from the document cache, which the caller
    read with the asset's index row (``entry``); everything else in the thread pool."""
    fmt = negotiate(request, asset)
    if fmt.name == "json" and entry.document is not None:
        return cached_json_response(request, catalog.iri(asset, identifier), entry.document)
    return await run_in_threadpool(asset_response, request, catalog, asset, identifier, fmt)


def content_etag(body: bytes) -> str:
    """The ETag of a cached AIoD JSON document: its content hash (api/preconditions too)."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def cached_json_response(request: Request, iri: str, body: bytes) -> Response:
    """A cached AIoD JSON document: its ETag is its content hash."""
    etag = content_etag(body)
    found = _DATE_MODIFIED.search(body)
    modified = found.group(1).decode() if found else None
    headers = _headers(iri, etag, modified)
    if _not_modified(request, etag, modified):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def croissant_body(body: bytes, max_depth: int = MAX_DEPTH) -> dict[str, Any] | None:
    """The AIoD dataset JSON of a Croissant request body, or None if it is not Croissant
    (not JSON, or nested deeper than ``max_depth``). Croissant is read as plain JSON: its
    ``@context`` is never loaded."""
    try:
        document = load_json(body, max_depth)
    except ParseError:
        return None
    return from_croissant(document) if is_croissant(document) else None


def asset_response(
    request: Request, catalog: Catalog, asset: AssetType, identifier: str, fmt: Format | None = None
) -> Response:
    """GET of one asset IRI in the negotiated representation (or 304)."""
    fmt = fmt or negotiate(request, asset)
    entry = catalog.entry(asset, identifier)  # NotFound -> 404 before any rendering
    etag = _etag(identifier, entry.date_modified, fmt)
    iri = catalog.iri(asset, identifier)
    headers = _headers(iri, etag, entry.date_modified)
    if _not_modified(request, etag, entry.date_modified):
        return Response(status_code=304, headers=headers)
    if fmt in (HTML, CROISSANT):
        data = catalog.get(asset, identifier)
        row = Row(
            0,
            identifier,
            asset.collection,
            entry.platform,
            entry.status,
            entry.date_created,
            entry.date_modified,
            False,
        )
        record = PublicRecord(asset, identifier, iri, data, row)
        reader = get_publisher(request).reader
        agents = reader.agents([record])
        if fmt is CROISSANT:
            body = orjson.dumps(to_croissant(data, iri, agents))
        else:
            from api.ui.asset_page import asset_page  # the UI's asset page (api/ui)

            document = schema_org(record, agents, catalog.settings.catalog_title, catalog.base_url)
            page, page_headers = asset_page(request, catalog, record, document, reader)
            body = page.encode()
            headers.update(page_headers)
        return Response(body, media_type=fmt.media_type, headers=headers)
    body = render_one(catalog, asset, identifier, fmt.name)
    return Response(body, media_type=fmt.media_type, headers=headers)
