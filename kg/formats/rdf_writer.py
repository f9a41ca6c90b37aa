"""Fast writers for our plain triples: Turtle, N-Triples, RDF/XML and (expanded) JSON-LD.

Harvest pages and OAI-PMH records are written tens of thousands at a time; building a
pyoxigraph term object per triple costs more than the whole page's text. These writers work
on ``(subject, predicate, Term)`` tuples directly, group statements by subject (first
appearance order) and use the given prefixes where a local name is safe to abbreviate.
Subjects are IRIs (our nodes are fragment IRIs, never blank nodes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import orjson

from kg.model.namespaces import RDF_TYPE
from kg.model.rdf_mapping import IRI, Triple
from kg.store.embedded import escape_literal

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
XSD_INTEGER = "http://www.w3.org/2001/XMLSchema#integer"
_LOCAL = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_QNAMES: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
_INVALID_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def group(triples: Iterable[Triple]) -> dict[str, list[Triple]]:
    """Statements by subject, subjects in order of first appearance."""
    out: dict[str, list[Triple]] = {}
    for triple in triples:
        found = out.get(triple[0])
        if found is None:
            out[triple[0]] = [triple]
        else:
            found.append(triple)
    return out


class _Names:
    def __init__(self, prefixes: Mapping[str, str]) -> None:
        # longest namespace first so that nested namespaces abbreviate correctly
        self.prefixes = sorted(prefixes.items(), key=lambda item: -len(item[1]))
        self.cache: dict[str, str] = {}

    def turtle(self, iri: str) -> str:
        found = self.cache.get(iri)
        if found is None:
            found = f"<{iri}>"
            for prefix, ns in self.prefixes:
                if iri.startswith(ns) and _LOCAL.match(iri[len(ns) :]):
                    found = f"{prefix}:{iri[len(ns) :]}"
                    break
            self.cache[iri] = found
        return found


def ntriples(triples: Iterable[Triple]) -> bytes:
    lines = []
    for s, p, o in triples:
        if isinstance(o, IRI):
            obj = f"<{o.value}>"
        elif o.datatype == XSD_STRING:
            obj = f'"{escape_literal(o.lexical)}"'
        else:
            obj = f'"{escape_literal(o.lexical)}"^^<{o.datatype}>'
        lines.append(f"<{s}> <{p}> {obj} .\n")
    return "".join(lines).encode()


def turtle(triples: Iterable[Triple], prefixes: Mapping[str, str]) -> bytes:
    names = _Names(prefixes)
    out = [f"@prefix {prefix}: <{ns}> .\n" for prefix, ns in prefixes.items()]
    for subject, statements in group(triples).items():
        parts = []
        for _, p, o in statements:
            predicate = "a" if p == RDF_TYPE else names.turtle(p)
            if isinstance(o, IRI):
                obj = names.turtle(o.value)
            elif o.datatype == XSD_STRING:
                obj = f'"{escape_literal(o.lexical)}"'
            elif o.datatype == XSD_INTEGER and o.lexical.lstrip("-").isdigit():
                obj = o.lexical
            else:
                obj = f'"{escape_literal(o.lexical)}"^^{names.turtle(o.datatype)}'
            parts.append(f"{predicate} {obj}")
        out.append(f"\n{names.turtle(subject)}\n    " + " ;\n    ".join(parts) + " .\n")
    return "".join(out).encode()


def _attr(value: str) -> str:
    return '"' + value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;") + '"'


def _xml_text(value: str) -> str:
    if _INVALID_XML.search(value):
        value = _INVALID_XML.sub("", value)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _qname(iri: str, by_ns: list[tuple[str, str]], extra: dict[str, str]) -> str:
    for prefix, ns in by_ns:
        if iri.startswith(ns) and _NCNAME.match(iri[len(ns) :]):
            return f"{prefix}:{iri[len(ns) :]}"
    # split after the last '#' or '/' and declare a namespace for it
    cut = max(iri.rfind("#"), iri.rfind("/")) + 1
    ns, local = iri[:cut], iri[cut:]
    if not _NCNAME.match(local):
        raise ValueError(f"cannot write predicate {iri!r} in RDF/XML")
    prefix = extra.setdefault(ns, f"ns{len(extra) + 1}")
    return f"{prefix}:{local}"


def rdfxml(
    triples: Iterable[Triple], prefixes: Mapping[str, str], declaration: bool = True
) -> bytes:
    """RDF/XML (one ``rdf:Description`` per subject)."""
    by_ns = sorted(
        ((p, ns) for p, ns in prefixes.items() if p != "rdf"), key=lambda item: -len(item[1])
    )
    by_ns.insert(0, ("rdf", RDF_NS))
    extra: dict[str, str] = {}
    qnames = _QNAMES.setdefault(tuple(prefixes.items()), {})
    body = []
    for subject, statements in group(triples).items():
        lines = [f"  <rdf:Description rdf:about={_attr(subject)}>"]
        for _, p, o in statements:
            name = qnames.get(p)
            if name is None:
                name = _qname(p, by_ns, extra)
                if not name.startswith("ns"):  # generated prefixes are per document
                    qnames[p] = name
            if isinstance(o, IRI):
                lines.append(f"    <{name} rdf:resource={_attr(o.value)}/>")
            else:
                value = _xml_text(o.lexical)
                if o.datatype == XSD_STRING:
                    lines.append(f"    <{name}>{value}</{name}>")
                else:
                    lines.append(f"    <{name} rdf:datatype={_attr(o.datatype)}>{value}</{name}>")
        lines.append("  </rdf:Description>")
        body.append("\n".join(lines))
    used = {
        "rdf": RDF_NS,
        **{p: ns for p, ns in prefixes.items() if p != "rdf"},
        **{p: ns for ns, p in extra.items()},
    }
    xmlns = " ".join(f"xmlns:{p}={_attr(ns)}" for p, ns in used.items())
    head = '<?xml version="1.0" encoding="UTF-8"?>\n' if declaration else ""
    return f"{head}<rdf:RDF {xmlns}>\n{chr(10).join(body)}\n</rdf:RDF>\n".encode()


def jsonld(triples: Iterable[Triple]) -> bytes:
    """Expanded JSON-LD (no context needed to read it)."""
    nodes = []
    for subject, statements in group(triples).items():
        node: dict[str, object] = {"@id": subject}
        types: list[str] = []
        for _, p, o in statements:
            if p == RDF_TYPE and isinstance(o, IRI):
                types.append(o.value)
                continue
            values = node.setdefault(p, [])
            assert isinstance(values, list)
            if isinstance(o, IRI):
                values.append({"@id": o.value})
            elif o.datatype == XSD_STRING:
                values.append({"@value": o.lexical})
            else:
                values.append({"@value": o.lexical, "@type": o.datatype})
        if types:
            node["@type"] = types
        nodes.append(node)
    return orjson.dumps(nodes)
