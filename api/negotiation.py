"""Content negotiation for the REST API: ``?format=`` beats ``Accept``; unknown formats are
400/406/415. The names and media types are the registry's (``kg.formats.mediatypes``)."""

from __future__ import annotations

from fastapi import HTTPException, Request

from kg.formats.mediatypes import REST_FORMATS, MediaFormat, by_media_type, by_name, parse_accept

Format = MediaFormat  # the registry's type (kg.formats.mediatypes), under the API's old name
FORMATS: tuple[Format, ...] = REST_FORMATS
BY_NAME = by_name(FORMATS)  # json: AIoD JSON; n3/ttl: Turtle; xml/rdf: RDF/XML; ...
BY_MEDIA = by_media_type(FORMATS)  # text/plain: N-Triples; application/xml: RDF/XML; ...


def choose_format(request: Request, default: str = "json") -> Format:
    """The response format for a request that can be answered in any of ``FORMATS``."""
    requested = request.query_params.get("format")
    if requested:
        fmt = BY_NAME.get(requested.lower())
        if fmt is None:
            names = ", ".join(f.name for f in FORMATS)
            raise HTTPException(400, f"Unknown format {requested!r}; one of: {names}.")
        return fmt
    header = request.headers.get("accept", "")
    if not header.strip():
        return BY_NAME[default]
    for media, q, _ in parse_accept(header):
        if q <= 0:
            continue
        if media in ("*/*", "application/*"):
            return BY_NAME[default]
        if media in BY_MEDIA:
            return BY_MEDIA[media]
    offered = ", ".join(f.media_type for f in FORMATS)
    raise HTTPException(406, f"Cannot answer in {header!r}; available: {offered}.")


def body_format(request: Request) -> Format:
    """The format of a request body, from ``Content-Type`` (JSON when absent)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not content_type:
        return BY_NAME["json"]
    fmt = BY_MEDIA.get(content_type)
    if fmt is None:
        accepted = ", ".join(f.media_type for f in FORMATS)
        raise HTTPException(415, f"Unsupported Content-Type {content_type!r}; one of: {accepted}.")
    return fmt
