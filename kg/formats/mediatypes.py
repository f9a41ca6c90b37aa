"""The one registry of representations (names, aliases, media types) and the parsing of HTTP
``Accept`` headers (RFC 9110 media ranges with ``q`` and parameters).

Read by every piece that negotiates a representation: the REST API (``api.negotiation``), the
linked-data pages, the SPARQL endpoint (``kg.sparql.formats``), so a name such as ``n3`` or a
media type such as ``text/n3`` means the same everywhere it makes sense.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple


class MediaRange(NamedTuple):
    media: str  # lower-cased type/subtype, e.g. "text/turtle", "*/*"
    q: float
    params: dict[str, str]  # other parameters, e.g. {"profile": "..."}


def parse_accept(header: str) -> list[MediaRange]:
    """The media ranges of an Accept header, best first (ties keep the client's order)."""
    items: list[MediaRange] = []
    for part in header.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        q, params = 1.0, {}
        for param in fields[1:]:
            key, _, value = param.partition("=")
            key, value = key.strip().lower(), value.strip().strip('"')
            if key == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
            elif key:
                params[key] = value
        items.append(MediaRange(media, q, params))
    return sorted(items, key=lambda item: -item.q)


# --------------------------------------------------------------------------- the format registry


@dataclass(frozen=True)
class MediaFormat:
    """One representation: its name, media type, the names (``?format=``) and other media
    types (``Accept``/``Content-Type``) that select it, and its kind."""

    name: str
    media_type: str
    aliases: tuple[str, ...] = ()
    also: tuple[str, ...] = ()
    kind: Literal["document", "rdf", "results"] = "document"

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def media_types(self) -> tuple[str, ...]:
        return (self.media_type, *self.also)

    @property
    def content_type(self) -> str:
        """``Content-Type``: with ``charset=utf-8`` for the textual RDF syntaxes and text/*."""
        text = self.media_type.startswith("text/") or self.name in ("turtle", "ntriples")
        return f"{self.media_type}; charset=utf-8" if text else self.media_type


#: AIoD JSON, the REST API's own document format
JSON = MediaFormat("json", "application/json")
#: RDF syntaxes (asset graphs, linked-data pages, CONSTRUCT/DESCRIBE answers)
TURTLE = MediaFormat(
    "turtle",
    "text/turtle",
    ("ttl", "n3"),
    ("application/x-turtle", "text/n3", "text/rdf+n3"),
    "rdf",
)
NTRIPLES = MediaFormat(
    "ntriples", "application/n-triples", ("nt", "n-triples"), ("text/plain",), "rdf"
)
JSONLD = MediaFormat(
    "jsonld", "application/ld+json", ("json-ld", "json"), ("application/json",), "rdf"
)
RDFXML = MediaFormat(
    "rdfxml",
    "application/rdf+xml",
    ("rdf", "xml", "rdf-xml"),
    ("application/xml", "text/xml"),
    "rdf",
)
RDF_FORMATS: tuple[MediaFormat, ...] = (TURTLE, NTRIPLES, JSONLD, RDFXML)
#: SPARQL result formats (SELECT/ASK answers)
RESULT_FORMATS: tuple[MediaFormat, ...] = (
    MediaFormat(
        "json", "application/sparql-results+json", ("srj",), ("application/json",), "results"
    ),
    MediaFormat(
        "xml",
        "application/sparql-results+xml",
        ("srx",),
        ("application/xml", "text/xml"),
        "results",
    ),
    MediaFormat("csv", "text/csv", (), (), "results"),
    MediaFormat("tsv", "text/tab-separated-values", (), (), "results"),
)
#: the REST API's formats, in order of preference (``json`` is AIoD JSON there)
REST_FORMATS: tuple[MediaFormat, ...] = (JSON, JSONLD, TURTLE, NTRIPLES, RDFXML)


def by_name(formats: tuple[MediaFormat, ...]) -> dict[str, MediaFormat]:
    """Name or alias -> format; the first format of ``formats`` that has a name wins."""
    table: dict[str, MediaFormat] = {}
    for fmt in formats:
        for name in fmt.names:
            table.setdefault(name, fmt)
    return table


def by_media_type(formats: tuple[MediaFormat, ...]) -> dict[str, MediaFormat]:
    """Media type -> format; the first format of ``formats`` that has it wins."""
    table: dict[str, MediaFormat] = {}
    for fmt in formats:
        for media in fmt.media_types:
            table.setdefault(media, fmt)
    return table
