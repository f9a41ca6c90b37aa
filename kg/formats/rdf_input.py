"""Reading assets sent as RDF (Turtle, N-Triples, RDF/XML, JSON-LD) into AIoD JSON.

Every input format ends as AIoD JSON and then takes the one validated write path, so an
asset is the same whatever it was sent as. Remote JSON-LD contexts are never fetched: our
own context (by URL) is substituted, any other remote context is refused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pyoxigraph as ox

from kg.errors import ParseError
from kg.model.context import build_context
from kg.model.fields import AssetType
from kg.model.namespaces import RDF_TYPE, expand
from kg.model.rdf_mapping import IRI, Triple, normalise_iri, triples_to_asset
from kg.store.embedded import from_ox

PARSE_FORMATS: dict[str, ox.RdfFormat] = {
    "turtle": ox.RdfFormat.TURTLE,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "rdfxml": ox.RdfFormat.RDF_XML,
    "nquads": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG,
}
CONTEXT_PATH = "/context.jsonld"


def _syntax_error(exc: SyntaxError) -> ParseError:
    line = column = None
    if len(exc.args) > 1 and isinstance(exc.args[1], tuple) and len(exc.args[1]) >= 3:
        line, column = exc.args[1][1], exc.args[1][2]
    return ParseError(f"Not valid RDF: {exc.args[0] if exc.args else exc}", line, column)


def parse_rdf(body: bytes, fmt: str, base_iri: str) -> list[Triple]:
    """Parse Turtle / N-Triples / RDF/XML / N-Quads / TriG with pyoxigraph."""
    try:
        quads = list(ox.parse(body, format=PARSE_FORMATS[fmt], base_iri=base_iri))
    except SyntaxError as exc:
        raise _syntax_error(exc) from None
    except (ValueError, OSError) as exc:
        raise ParseError(f"Not valid RDF: {exc}") from None
    triples: list[Triple] = []
    for quad in quads:
        subject = quad.subject
        s = subject.value if isinstance(subject, ox.NamedNode) else f"_:{subject.value}"
        triples.append((s, quad.predicate.value, from_ox(quad.object)))
    return triples


def _resolve_contexts(node: Any, base_url: str) -> Any:
    """Replace our context URL by the inline context; refuse any other remote context."""
    if isinstance(node, list):
        return [_resolve_contexts(item, base_url) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "@context":
            out[key] = _context_value(value, base_url)
        else:
            out[key] = _resolve_contexts(value, base_url)
    return out


def _context_value(value: Any, base_url: str) -> Any:
    if isinstance(value, list):
        return [_context_value(v, base_url) for v in value]
    if isinstance(value, str):
        if value.rstrip("/").endswith(CONTEXT_PATH) or value == base_url + CONTEXT_PATH:
            return build_context()["@context"]
        raise ParseError(
            f"Remote JSON-LD contexts are not fetched ({value!r}); put the context inline."
        )
    return value


def parse_jsonld(body: bytes | Any, base_url: str) -> list[Triple]:
    """Parse JSON-LD (rdflib's processor; remote contexts refused) into triples."""
    from rdflib import BNode, Graph, Literal, URIRef

    try:
        document = json.loads(body) if isinstance(body, (bytes, str)) else body
    except json.JSONDecodeError as exc:
        raise ParseError(f"Not valid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except UnicodeDecodeError as exc:
        raise ParseError(f"Not valid UTF-8: {exc.reason}") from None
    except RecursionError:  # hostile nesting: Python's json recurses per level
        raise ParseError("The JSON-LD document is nested too deeply.") from None
    try:
        document = _resolve_contexts(document, base_url)
    except RecursionError:
        raise ParseError("The JSON-LD document is nested too deeply.") from None
    graph = Graph()
    try:
        graph.parse(data=json.dumps(document), format="json-ld", base=base_url + "/")
    except ParseError:
        raise
    except Exception as exc:  # rdflib raises many types for bad JSON-LD
        raise ParseError(f"Not valid JSON-LD: {exc}") from None
    triples: list[Triple] = []
    for s, p, o in graph:
        subject = f"_:{s}" if isinstance(s, BNode) else str(s)
        if isinstance(o, Literal):
            from kg.model.rdf_mapping import Lit

            datatype = str(o.datatype) if o.datatype else expand("xsd:string")
            triples.append((subject, str(p), Lit(str(o), datatype)))
        elif isinstance(o, (URIRef, BNode)):
            value = f"_:{o}" if isinstance(o, BNode) else str(o)
            triples.append((subject, str(p), IRI(value)))
    return triples


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
