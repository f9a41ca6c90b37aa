"""SPARQL answer formats: which formats answer which query form, content negotiation, and the
serialisation of results (capped in size) -- the names and media types are those of the one
registry, ``kg.formats.mediatypes``.

SELECT/ASK: SPARQL JSON, XML, CSV, TSV; CONSTRUCT/DESCRIBE: Turtle, N-Triples, JSON-LD,
RDF/XML; chosen by ``?format=`` (a name, alias or media type) or ``Accept`` (``negotiate``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import IO, Literal, cast

import pyoxigraph as ox

from kg.errors import NotAcceptable, ResultTooLarge, UpstreamError
from kg.formats.mediatypes import RDF_FORMATS, RESULT_FORMATS, MediaFormat, parse_accept
from kg.model.namespaces import PREFIXES

Kind = Literal["solutions", "boolean", "graph"]
ResultFormat = MediaFormat

SOLUTION_FORMATS: tuple[ResultFormat, ...] = RESULT_FORMATS
GRAPH_FORMATS: tuple[ResultFormat, ...] = RDF_FORMATS
FORMATS_BY_NAME: dict[str, ResultFormat] = {f.name: f for f in (*SOLUTION_FORMATS, *GRAPH_FORMATS)}
OX_RESULTS = {
    "json": ox.QueryResultsFormat.JSON,
    "xml": ox.QueryResultsFormat.XML,
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
}
OX_RDF = {
    "turtle": ox.RdfFormat.TURTLE,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "jsonld": ox.RdfFormat.JSON_LD,
    "rdfxml": ox.RdfFormat.RDF_XML,
}


def negotiate(kind: Kind, accept: str | None = None, fmt: str | None = None) -> ResultFormat:
    """The answer format for a query of this kind; ``NotAcceptable`` if there is none."""
    family = GRAPH_FORMATS if kind == "graph" else SOLUTION_FORMATS
    offered = ", ".join(f.media_type for f in family)
    if fmt:  # a name or media type; several, comma-separated, are tried in order
        for wanted in (w.split(";")[0].strip().lower() for w in fmt.split(",")):
            for f in family:
                if wanted in f.names or wanted in f.media_types:
                    return f
        names = ", ".join(f.name for f in family)
        raise NotAcceptable(f"Format {fmt!r} cannot answer this query; one of: {names}.")
    if not accept or not accept.strip():
        return family[0]
    for media, q, _ in parse_accept(accept):
        if q <= 0:
            continue
        if media == "*/*":
            return family[0]
        if media.endswith("/*"):
            major = media[:-1]
            for f in family:
                if f.media_type.startswith(major):
                    return f
            continue
        for f in family:
            if media in f.media_types:
                return f
    raise NotAcceptable(f"Cannot answer this query in {accept!r}; available: {offered}.")


@dataclass(frozen=True)
class Answer:
    media_type: str  # Content-Type, with charset where it applies
    body: bytes
    format: str


class CappedBuffer(io.RawIOBase):
    """A bytes sink that refuses to grow past ``limit`` (the serialiser then stops)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0
        self.exceeded = False

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        size = len(data)
        if self.size + size > self.limit:
            self.exceeded = True
            raise OSError("result size limit reached")
        self.parts.append(bytes(data))
        self.size += size
        return size

    def getvalue(self) -> bytes:
        return b"".join(self.parts)


def serialize_result(result: object, fmt: ResultFormat, max_bytes: int) -> bytes:
    """Serialise pyoxigraph query results in ``fmt``, at most ``max_bytes``."""
    buffer = CappedBuffer(max_bytes)
    sink = cast(IO[bytes], buffer)
    try:
        if isinstance(result, ox.QueryTriples):
            if fmt.name == "ntriples":
                result.serialize(sink, format=ox.RdfFormat.N_TRIPLES)
            else:
                ox.serialize(result, sink, OX_RDF[fmt.name], prefixes=PREFIXES)
        elif isinstance(result, ox.QuerySolutions | ox.QueryBoolean):
            result.serialize(sink, format=OX_RESULTS[fmt.name])
        else:  # pragma: no cover - pyoxigraph returns one of the three
            raise TypeError(f"unexpected result {type(result).__name__}")
    except OSError:
        if buffer.exceeded:
            raise ResultTooLarge(max_bytes) from None
        raise
    return buffer.getvalue()


def convert_remote(
    body: bytes, content_type: str, kind: Kind, fmt: ResultFormat, max_bytes: int
) -> bytes:
    """Re-serialise an engine's answer (SPARQL JSON or N-Triples) in the requested format."""
    media = content_type.split(";")[0].strip().lower()
    try:
        if kind == "graph":
            source = {
                "text/turtle": ox.RdfFormat.TURTLE,
                "application/rdf+xml": ox.RdfFormat.RDF_XML,
            }.get(media, ox.RdfFormat.N_TRIPLES)
            triples = (q.triple for q in ox.parse(body, format=source))
            buffer = CappedBuffer(max_bytes)
            try:
                ox.serialize(
                    triples,
                    cast(IO[bytes], buffer),
                    OX_RDF[fmt.name],
                    prefixes=PREFIXES if fmt.name != "ntriples" else None,
                )
            except OSError:
                if buffer.exceeded:
                    raise ResultTooLarge(max_bytes) from None
                raise
            return buffer.getvalue()
        source_format = ox.QueryResultsFormat.from_media_type(media) or ox.QueryResultsFormat.JSON
        parsed = ox.parse_query_results(body, format=source_format)
        return serialize_result(parsed, fmt, max_bytes)
    except (SyntaxError, ValueError) as exc:
        raise UpstreamError(f"The store sent an answer that could not be read: {exc}") from exc
