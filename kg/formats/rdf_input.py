"""Reading assets sent as RDF (Turtle, N-Triples, RDF/XML, JSON-LD) into AIoD JSON, within
bounds (DESIGN.md section 9).

Every input format ends as AIoD JSON and then takes the one validated write path, so an
asset is the same whatever it was sent as. Bounds on every caller body:

* JSON and JSON-LD: nesting depth (``body_max_depth``; orjson itself stops at 1024);
* JSON-LD: no context is ever fetched. Our own context (``/context.jsonld``, any host) is
  replaced by the packaged one; any other remote, local (``file:``) or relative context,
  ``@import`` or scoped context is refused with its IRI named. pyoxigraph's JSON-LD parser has
  no document loader, so it cannot fetch either;
* RDF/XML: a streaming expat pass first refuses any DOCTYPE (so no internal or external
  entities, no DTD, no parameter entities) and nesting deeper than ``body_max_depth``, before
  pyoxigraph sees the bytes (its parser expands internal entities);
* every RDF format: at most ``body_max_triples`` triples; a leading UTF-8 BOM is dropped.

``read_rdf_body`` runs the whole conversion in a killable worker (``kg.formats.bounded``) with
a deadline and a memory cap; the plain functions here are for trusted callers (CLI, harvest).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from xml.parsers import expat

import orjson
import pyoxigraph as ox

from kg.errors import CatalogError, ParseError
from kg.model.context import build_context
from kg.model.fields import ASSET_TYPES, AssetType
from kg.model.namespaces import RDF_TYPE, expand
from kg.model.rdf_mapping import IRI, Triple, normalise_iri, triples_to_asset
from kg.settings import Settings
from kg.store.embedded import from_ox

if TYPE_CHECKING:
    from kg.formats.bounded import BoundedPool

PARSE_FORMATS: dict[str, ox.RdfFormat] = {
    "turtle": ox.RdfFormat.TURTLE,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "rdfxml": ox.RdfFormat.RDF_XML,
    "nquads": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG,
    "jsonld": ox.RdfFormat.JSON_LD,
}
CONTEXT_PATH = "/context.jsonld"
BOM = b"\xef\xbb\xbf"
MAX_DEPTH: int = Settings.model_fields["body_max_depth"].default
MAX_TRIPLES: int = Settings.model_fields["body_max_triples"].default


class TooManyTriples(ParseError):
    status = 413


def _syntax_error(exc: SyntaxError) -> ParseError:
    line = column = None
    if len(exc.args) > 1 and isinstance(exc.args[1], tuple) and len(exc.args[1]) >= 3:
        line, column = exc.args[1][1], exc.args[1][2]
    message = str(exc.args[0] if exc.args else exc)
    if "LoadDocumentCallback" in message:  # pyoxigraph met a context it would have to fetch
        return ParseError("Remote JSON-LD contexts are not fetched; put the context inline.")
    return ParseError(f"Not valid RDF: {message}", line, column)


def _without_bom(body: bytes) -> bytes:
    return body[len(BOM) :] if body.startswith(BOM) else body


def check_depth(document: Any, max_depth: int = MAX_DEPTH) -> None:
    """ParseError if arrays / objects nest deeper than ``max_depth`` (no recursion)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > max_depth:
            raise ParseError(f"The document nests deeper than {max_depth} levels.")
        stack.extend((child, depth + 1) for child in children)


def load_json(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """A JSON body, depth-bounded; ParseError with line/column for bad JSON."""
    body = _without_bom(body)
    if not body.strip():
        raise ParseError("The request body is empty; expected a JSON object.")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        message = exc.msg
        if "depth" in message or "recursion" in message:
            raise ParseError(f"The document nests deeper than {max_depth} levels.") from None
        raise ParseError(f"Not valid JSON: {message}", exc.lineno, exc.colno) from None
    check_depth(document, max_depth)
    return document


def _refused(iri: str, what: str = "context") -> ParseError:
    return ParseError(
        f"JSON-LD {what} {iri!r} is not fetched (no remote, local or relative contexts); "
        f"put the context inline or use {CONTEXT_PATH}."
    )


def _own_context(value: str, base_url: str) -> bool:
    return value.rstrip("/").endswith(CONTEXT_PATH) or value == base_url + CONTEXT_PATH


def _context_value(value: Any, base_url: str) -> Any:
    """A ``@context`` value with our context inlined; ParseError for any other reference."""
    if isinstance(value, list):
        return [_context_value(v, base_url) for v in value]
    if isinstance(value, str):
        if _own_context(value, base_url):
            return build_context()["@context"]
        raise _refused(value)
    return value


def prepare_jsonld(document: Any, base_url: str) -> Any:
    """The document with our context inlined everywhere it is referenced; ParseError naming
    the first context (``@context``, ``@import``, type- or property-scoped) that would have
    to be loaded. Walks iteratively (the depth is already bounded)."""
    stack: list[Any] = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if "@import" in node:
            raise _refused(str(node["@import"]), "@import")
        if "@context" in node:
            node["@context"] = _context_value(node["@context"], base_url)
        stack.extend(node.values())
    return document


def check_xml(body: bytes, max_depth: int = MAX_DEPTH) -> None:
    """Refuse RDF/XML with a DOCTYPE (DTD, entities) or nested deeper than ``max_depth``.

    expat reads the bytes as UTF-8 whatever the XML declaration says (as pyoxigraph does),
    never loads external entities and stops at the first DOCTYPE, so this pass is linear."""
    parser = expat.ParserCreate(encoding="utf-8")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    depth = 0

    def position() -> tuple[int, int]:
        return parser.CurrentLineNumber, parser.CurrentColumnNumber + 1

    def doctype(*_: Any) -> None:
        raise ParseError(
            "RDF/XML with a DOCTYPE (DTD or entity declarations) is not accepted.", *position()
        )

    def entity(*_: Any) -> Any:
        raise ParseError("XML entities are not accepted.", *position())

    def start(*_: Any) -> None:
        nonlocal depth
        depth += 1
        if depth > max_depth:
            raise ParseError(f"The RDF/XML nests deeper than {max_depth} elements.", *position())

    def end(*_: Any) -> None:
        nonlocal depth
        depth -= 1

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    parser.ExternalEntityRefHandler = entity
    parser.SkippedEntityHandler = entity
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(body, True)
    except expat.ExpatError as exc:
        raise ParseError(
            f"Not well-formed XML: {expat.ErrorString(exc.code)}", exc.lineno, exc.offset + 1
        ) from None


def parse_rdf(
    body: bytes,
    fmt: str,
    base_iri: str,
    max_triples: int = MAX_TRIPLES,
    max_depth: int = MAX_DEPTH,
) -> list[Triple]:
    """Parse Turtle / N-Triples / RDF/XML / N-Quads / TriG / JSON-LD with pyoxigraph."""
    body = _without_bom(body)
    if fmt == "rdfxml":
        check_xml(body, max_depth)
    triples: list[Triple] = []
    try:
        for quad in ox.parse(body, format=PARSE_FORMATS[fmt], base_iri=base_iri):
            if len(triples) >= max_triples:
                raise TooManyTriples(f"The body holds more than {max_triples} triples.")
            subject = quad.subject
            s = subject.value if isinstance(subject, ox.NamedNode) else f"_:{subject.value}"
            triples.append((s, quad.predicate.value, from_ox(quad.object)))
    except SyntaxError as exc:
        raise _syntax_error(exc) from None
    except (ValueError, OSError) as exc:
        raise ParseError(f"Not valid RDF: {exc}") from None
    return triples


def parse_jsonld(
    body: bytes | Any,
    base_url: str,
    max_triples: int = MAX_TRIPLES,
    max_depth: int = MAX_DEPTH,
) -> list[Triple]:
    """Parse JSON-LD (bytes or an already parsed document) into triples; no context is
    ever fetched."""
    if isinstance(body, (bytes, str)):
        document = load_json(body.encode() if isinstance(body, str) else body, max_depth)
    else:
        check_depth(body, max_depth)
        document = orjson.loads(orjson.dumps(body))  # a copy: the caller's stays as it was
    document = prepare_jsonld(document, base_url)
    return parse_rdf(orjson.dumps(document), "jsonld", base_url + "/", max_triples, max_depth)


def asset_from_body(
    collection: str, fmt: str, body: bytes, base_url: str, max_triples: int, max_depth: int
) -> tuple[Any, ...]:
    """Worker side of :func:`read_rdf_body`: ``("ok", record)`` or ``("error", status,
    message, line, column)`` (plain data, so it crosses the pipe intact)."""
    asset = ASSET_TYPES[collection]
    try:
        if fmt == "jsonld":
            triples = parse_jsonld(body, base_url, max_triples, max_depth)
        else:
            triples = parse_rdf(body, fmt, base_url + "/", max_triples, max_depth)
        return ("ok", asset_from_rdf(asset, triples, base_url))
    except ParseError as exc:
        return ("error", exc.status, str(exc), exc.line, exc.column)
    except CatalogError as exc:
        return ("error", exc.status, str(exc.detail), None, None)


def body_pool(settings: Settings) -> BoundedPool:
    """The worker processes that read caller bodies (started on first use; ``api.app`` starts
    them in the background at start-up so that the first RDF write does not wait ~1 s)."""
    from kg.formats.bounded import shared_pool

    return shared_pool(
        settings.body_parse_workers,
        settings.body_parse_timeout,
        settings.body_parse_memory_bytes,
        ("kg.formats.rdf_input",),
    )


def read_rdf_body(
    settings: Settings, asset: AssetType, fmt: str, body: bytes, base_url: str
) -> Any:
    """The AIoD JSON of an RDF / JSON-LD caller body, read in a bounded worker process."""
    pool = body_pool(settings)
    try:
        outcome = pool.call(
            asset_from_body,
            asset.collection,
            fmt,
            body,
            base_url,
            settings.body_max_triples,
            settings.body_max_depth,
        )
    except RuntimeError as exc:  # an unexpected failure inside the worker: still bad input
        raise ParseError(f"The body could not be read as {fmt}: {exc}") from None
    if outcome[0] == "ok":
        return outcome[1]
    _, status, message, line, column = outcome
    if status == 413:
        raise TooManyTriples(message)
    if status == 400:
        raise ParseError(message, line, column)
    error = CatalogError(message)
    error.status = status
    raise error


def find_subject(asset: AssetType, triples: Sequence[Triple]) -> str:
    """The node of the asset's primary class (schema.org in http or https form)."""
    wanted = {normalise_iri(expand(c)) for c in asset.classes[:1]}
    subjects = [
        s
        for s, p, o in triples
        if p == RDF_TYPE and isinstance(o, IRI) and normalise_iri(o.value) in wanted
    ]
    unique = sorted(set(subjects))
    if len(unique) != 1:
        raise ParseError(
            f"Expected exactly one node of type {asset.classes[0]} in the RDF, found {len(unique)}."
        )
    return unique[0]


def asset_from_rdf(asset: AssetType, triples: Sequence[Triple], base_url: str) -> dict[str, Any]:
    """AIoD JSON of the asset described by ``triples`` (server fields dropped)."""
    normalised = [
        (s, normalise_iri(p), IRI(normalise_iri(o.value)) if isinstance(o, IRI) else o)
        for s, p, o in triples
    ]
    subject = find_subject(asset, normalised)
    data = triples_to_asset(asset, subject, list(normalised), base_url)
    for name in list(data):
        fld = asset.by_name.get(name)
        if (fld is not None and fld.server) or data[name] == [] or data[name] == {}:
            del data[name]
    entry = data.get("aiod_entry")
    if isinstance(entry, dict):
        entry.pop("date_created", None)
        entry.pop("date_modified", None)
        if entry.get("editor") == []:
            entry.pop("editor")
        if not entry:
            del data["aiod_entry"]
    return data
