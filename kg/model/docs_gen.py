"""The human-readable mapping table (``docs/mapping.md``), generated from the field table.

``render_mapping_table()`` lists, for every asset type, its REST collection, identifier prefix,
classes and every AIoD JSON field with its RDF predicate, value kind / datatype, cardinality,
whether it is required, its enumeration or pattern, and how the term aligns with the AIoD
metadata model v3 and other vocabularies (read from ``ontology/aiod.ttl``). Nested objects
(distribution, location, ...) get a table of their own. A test checks the committed file is
current, so the documentation cannot drift from the code.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rdflib import BNode, Graph, URIRef
from rdflib.namespace import OWL, RDFS, SKOS

from kg.model import data_files
from kg.model.context import type_term
from kg.model.fields import ASSET_TYPES, XSD_OF_KIND, AssetType, Field, Kind, NodeSpec
from kg.model.namespaces import AIOD, AIODM, PREFIXES, expand
from kg.model.rdf_mapping import DERIVED_IDENTIFIER_FIELDS
from kg.model.shapes_gen import node_shape_iri

ONTOLOGY_PATH = data_files.ONTOLOGY_PATH  # the data package kg.model.ontology

# Prefixes shown in the document: the catalog's own plus those the ontology aligns to.
DOC_PREFIXES: dict[str, str] = {
    **PREFIXES,
    "aiodm": AIODM,
    "locn": "http://www.w3.org/ns/locn#",
    "cr": "http://mlcommons.org/croissant/",
}

_SYMMETRIC = (
    (OWL.equivalentClass, "equivalent"),
    (OWL.equivalentProperty, "equivalent"),
    (SKOS.exactMatch, "exact match"),
    (SKOS.closeMatch, "close match"),
    (SKOS.relatedMatch, "related"),
)
_HIERARCHY = (RDFS.subClassOf, RDFS.subPropertyOf)


def _curie(iri: str) -> str:
    for prefix, ns in DOC_PREFIXES.items():
        if iri.startswith(ns) and iri != ns:
            return f"{prefix}:{iri[len(ns) :]}"
    return f"<{iri}>"


def _code(text: str) -> str:
    """``text`` as an inline code span that is safe inside a Markdown table cell."""
    return "`" + text.replace("|", "\\|") + "`"


def _alignments(graph: Graph, iri: str) -> list[str]:
    """How ``iri`` relates to other vocabularies, as stated in the ontology.

    "narrower" / "broader" describe the *other* term relative to ``iri``. AIoD v3 terms come
    first.
    """
    node = URIRef(iri)
    found: set[tuple[str, str, str]] = set()  # (term, relation, "inverse of " or "")

    def add(term: object, relation: str, inverse: str = "") -> None:
        # Relations between the ontology's own terms are not alignments.
        if isinstance(term, URIRef) and term != node and not str(term).startswith(AIOD):
            found.add((str(term), relation, inverse))

    for predicate, relation in _SYMMETRIC:
        for other in graph.objects(node, predicate):
            add(other, relation)
        for other in graph.subjects(predicate, node):
            add(other, relation)
    for predicate in _HIERARCHY:
        for other in graph.objects(node, predicate):
            if isinstance(other, BNode):
                inverse = graph.value(other, OWL.inverseOf)
                add(inverse, "broader", "inverse of ")
            else:
                add(other, "broader")
        for other in graph.subjects(predicate, node):
            add(other, "narrower")
    ordered = sorted(found, key=lambda item: (not item[0].startswith(AIODM), *item))
    return [f"{inv}{_code(_curie(term))} ({relation})" for term, relation, inv in ordered]


def _kind_text(fld: Field) -> str:
    if fld.kind in XSD_OF_KIND:
        return _code(XSD_OF_KIND[fld.kind])
    if fld.kind is Kind.IRI:
        return "IRI (a URL)"
    if fld.kind is Kind.REF:
        return "IRI of an asset (its identifier in JSON)"
    if fld.kind is Kind.NODE:
        assert fld.node is not None
        return f"object: [{fld.node.name}](#node-{fld.node.name})"
    return "object"


def _cardinality(fld: Field) -> str:
    low = "1" if fld.required else "0"
    return f"{low}..n" if fld.many else ("1" if fld.required else "0..1")


def _constraints(fld: Field) -> str:
    parts: list[str] = []
    if fld.name in DERIVED_IDENTIFIER_FIELDS:
        parts.append("derived from `identifier` on output, never stored")
    elif fld.server:
        parts.append("set by the server, ignored on input")
    if fld.enum is not None:
        parts.append("one of " + ", ".join(_code(v) for v in fld.enum))
    if fld.pattern:
        parts.append("pattern " + _code(fld.pattern))
    if fld.min_value is not None:
        value = int(fld.min_value) if float(fld.min_value).is_integer() else fld.min_value
        parts.append(f"at least {value}")
    if fld.max_length is not None:
        parts.append(f"at most {fld.max_length} characters")
    if fld.description:
        parts.append(fld.description.replace("|", "\\|"))
    return "; ".join(parts)


def _rows(graph: Graph, fields: Iterable[Field], prefix: str = "") -> list[str]:
    rows: list[str] = []
    for fld in fields:
        if fld.kind is Kind.NEST:
            assert fld.node is not None
            rows.extend(_rows(graph, fld.node.fields, f"{prefix}{fld.name}."))
            continue
        predicate = expand(fld.predicate)
        cells = [
            _code(prefix + fld.name),
            _code(_curie(predicate)),
            _kind_text(fld),
            _cardinality(fld),
            "yes" if fld.required else "",
            _constraints(fld),
            "; ".join(_alignments(graph, predicate)),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


_TABLE_HEAD = [
    "| AIoD JSON field | Predicate | Value | Cardinality | Required | Constraints and notes"
    " | Alignment |",
    "|---|---|---|---|---|---|---|",
]


def _classes_text(graph: Graph, classes: tuple[str, ...]) -> list[str]:
    lines = []
    for cls in classes:
        iri = expand(cls)
        aligned = _alignments(graph, iri)
        suffix = f": {'; '.join(aligned)}" if aligned else ""
        lines.append(f"- {_code(_curie(iri))}{suffix}")
    return lines


def _nested_specs() -> list[NodeSpec]:
    found: dict[str, NodeSpec] = {}

    def walk(fields: tuple[Field, ...]) -> None:
        for fld in fields:
            if fld.node is None:
                continue
            if fld.kind is Kind.NODE and fld.node.name not in found:
                found[fld.node.name] = fld.node
            walk(fld.node.fields)

    for asset in ASSET_TYPES.values():
        walk(asset.fields)
    return [found[name] for name in sorted(found)]


def _users(spec: NodeSpec) -> list[str]:
    """Where a nested object occurs, as ``collection.field`` / ``node.field`` paths."""
    users: set[str] = set()

    def walk(owner: str, fields: tuple[Field, ...]) -> None:
        for fld in fields:
            if fld.node is None:
                continue
            if fld.node is spec:
                users.add(f"{owner}.{fld.name}")
            if fld.kind is Kind.NODE:
                walk(fld.node.name, fld.node.fields)
            else:
                walk(owner, fld.node.fields)

    for name, asset in ASSET_TYPES.items():
        walk(name, asset.fields)
    return sorted(users)


def _asset_section(graph: Graph, asset: AssetType) -> list[str]:
    shape = "shapes:" + str(node_shape_iri(asset)).rpartition("#")[2]
    lines = [
        f'<a id="{asset.collection}"></a>',
        f"## {asset.collection}",
        "",
        asset.description,
        "",
        f"- REST: `/{asset.collection}`, identifiers `{asset.prefix}_<24 letters or digits>`",
        f"- JSON-LD `@type`: `{type_term(asset)}`; SHACL: `shapes/{asset.family}.ttl`,"
        f" shape `{shape}`",
        "- Classes (the first is the primary class):",
        *(f"  {line}" for line in _classes_text(graph, asset.classes)),
        "",
        *_TABLE_HEAD,
        *_rows(graph, asset.fields),
        "",
    ]
    return lines


def _node_section(graph: Graph, spec: NodeSpec) -> list[str]:
    classes = _classes_text(graph, spec.classes) or ["- (no class)"]
    used = ", ".join(_code(u) for u in _users(spec))
    return [
        f'<a id="node-{spec.name}"></a>',
        f"### {spec.name}",
        "",
        f"Used by {used}. Stored as a node with its own IRI, linked from its parent:"
        " `<asset IRI>#<field>` (`#<field>-<n>` for the n-th item of an array; nested"
        " nodes append `.<field>`).",
        "",
        "- Classes:",
        *(f"  {line}" for line in classes),
        "",
        *_TABLE_HEAD,
        *_rows(graph, spec.fields),
        "",
    ]


def _load_ontology(path: Path) -> Graph:
    graph = Graph()
    graph.parse(path, format="turtle")
    return graph


def render_mapping_table(ontology_path: Path | None = None) -> str:
    """The whole Markdown document, deterministic so the committed file can be compared."""
    graph = _load_ontology(ontology_path or ONTOLOGY_PATH)
    prefixes_used = sorted(p for p in DOC_PREFIXES if p not in {"rdf", "xsd", "owl", "sh"})
    lines = [
        "<!-- Generated by `aiod-kg generate` from kg/model/fields.py and ontology/aiod.ttl"
        " (kg/model/docs_gen.py) -- do not edit by hand. -->",
        "",
        "# AIoD JSON to RDF mapping",
        "",
        "How every field of the AIoD REST API v2 JSON of every asset type is stored in the"
        " knowledge graph. One table per asset type, one row per JSON field; nested objects"
        " have a table of their own at the end. The field table `kg/model/fields.py` is the single"
        " source of this document, of the JSON-LD context (`ontology/context.jsonld`) and of"
        " the SHACL shapes (`shapes/*.ttl`); terms minted in the `aiod:` namespace are defined"
        " in `ontology/aiod.ttl`.",
        "",
        "Columns:",
        "",
        "- **Value**: an XSD datatype for literals; *IRI* for URLs stored as IRIs;"
        " *IRI of an asset* for a reference (an identifier such as `data_...` in JSON, the"
        " referenced asset's IRI in RDF); *object* for a nested object stored as its own node.",
        "- **Cardinality**: `0..1` / `1` a single value (optional / required), `0..n` / `1..n`"
        " a JSON array. Fields named `a.b` are members of a JSON object whose members are"
        " stored directly on the asset.",
        "- **Alignment**: how the class or predicate relates to other vocabularies, as stated"
        " in `ontology/aiod.ttl`. `aiodm:` is the AIoD metadata model v3. *equivalent*:"
        " `owl:equivalentClass` / `owl:equivalentProperty`; *narrower* / *broader*: the other"
        " term is a sub- / super-class or property of this one; *close match* /"
        " *related*: `skos:closeMatch` / `skos:relatedMatch`.",
        "",
        "Prefixes:",
        "",
        "| Prefix | Namespace |",
        "|---|---|",
        *(f"| `{p}:` | <{DOC_PREFIXES[p]}> |" for p in prefixes_used),
        "",
        "## Asset types",
        "",
        "| Collection | Identifier prefix | Classes | Shapes file |",
        "|---|---|---|---|",
    ]
    for asset in ASSET_TYPES.values():
        classes = ", ".join(_code(_curie(expand(c))) for c in asset.classes)
        lines.append(
            f"| [`{asset.collection}`](#{asset.collection}) | `{asset.prefix}` | {classes}"
            f" | `shapes/{asset.family}.ttl` |"
        )
    lines.append("")
    for asset in ASSET_TYPES.values():
        lines.extend(_asset_section(graph, asset))
    lines.extend(["## Nested objects", ""])
    for spec in _nested_specs():
        lines.extend(_node_section(graph, spec))
    return "\n".join(lines).rstrip("\n") + "\n"
