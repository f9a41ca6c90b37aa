"""SHACL shapes generated from the field table (``shapes/*.ttl``).

``aiod-kg generate`` writes them; a test checks the committed files are current, so the
shapes, the mapping and the JSON-LD context cannot drift apart. One file per asset family
(``asset``, ``agent``, ``community``) plus ``common.ttl`` for the nested node shapes.
"""

from __future__ import annotations

from collections.abc import Iterable

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS, SH, XSD

from kg.model.fields import ASSET_TYPES, XSD_OF_KIND, AssetType, Field, Kind, NodeSpec
from kg.model.namespaces import PREFIXES, expand

SHAPES = Namespace("https://w3id.org/aiod-kg/shapes#")

KIND_LABEL: dict[Kind, str] = {
    Kind.STRING: "a string",
    Kind.IRI: "a URL",
    Kind.DATETIME: "a date-time such as 2024-05-31T12:00:00",
    Kind.DATE: "a date such as 2024-05-31",
    Kind.INTEGER: "an integer",
    Kind.DECIMAL: "a number",
    Kind.BOOLEAN: "true or false",
    Kind.REF: "an asset identifier",
    Kind.NODE: "an object",
}


def node_shape_iri(spec: NodeSpec | AssetType) -> URIRef:
    if isinstance(spec, AssetType):
        name = "".join(p.capitalize() for p in spec.singular.split("_"))
    else:
        name = "".join(p.capitalize() for p in spec.name.split("_"))
    return SHAPES[f"{name}Shape"]


def _rdf_list(graph: Graph, items: Iterable[URIRef | Literal | BNode]) -> BNode:
    head = BNode()
    Collection(graph, head, list(items))
    return head


def _property_shape(graph: Graph, owner: URIRef, fld: Field, path_prefix: str) -> None:
    if fld.server:
        return
    if fld.kind is Kind.NEST:
        assert fld.node is not None
        for sub in fld.node.fields:
            _property_shape(graph, owner, sub, f"{path_prefix}{fld.name}.")
        return
    prop = URIRef(f"{owner}-{path_prefix}{fld.name}")
    graph.add((owner, SH.property, prop))
    graph.add((prop, SH.path, URIRef(expand(fld.predicate))))
    graph.add((prop, SH.name, Literal(f"{path_prefix}{fld.name}")))
    if fld.description:
        graph.add((prop, SH.description, Literal(fld.description)))
    if fld.required:
        graph.add((prop, SH.minCount, Literal(1)))
    if not fld.many:
        graph.add((prop, SH.maxCount, Literal(1)))
    if fld.kind in (Kind.IRI, Kind.REF, Kind.NODE):
        graph.add((prop, SH.nodeKind, SH.IRI))
    elif fld.kind in XSD_OF_KIND:
        graph.add((prop, SH.datatype, URIRef(expand(XSD_OF_KIND[fld.kind]))))
    if fld.kind is Kind.NODE:
        assert fld.node is not None
        graph.add((prop, SH["class"], URIRef(expand(fld.node.classes[0]))))
    if fld.enum is not None:
        graph.add((prop, SH["in"], _rdf_list(graph, [Literal(v) for v in fld.enum])))
    if fld.pattern:
        graph.add((prop, SH.pattern, Literal(fld.pattern)))
    if fld.min_value is not None:
        value = int(fld.min_value) if float(fld.min_value).is_integer() else fld.min_value
        graph.add(
            (
                prop,
                SH.minInclusive,
                Literal(value, datatype=XSD.decimal if fld.kind is Kind.DECIMAL else None),
            )
        )
    if fld.max_length is not None:
        graph.add((prop, SH.maxLength, Literal(fld.max_length)))


def _node_shape(graph: Graph, spec: NodeSpec | AssetType) -> None:
    shape = node_shape_iri(spec)
    graph.add((shape, RDF.type, SH.NodeShape))
    # Nested nodes are targeted by class too (not reached through sh:node), so that their
    # problems are reported one by one with their own focus node and path.
    if isinstance(spec, AssetType):
        graph.add((shape, SH.targetClass, URIRef(expand(spec.primary_class))))
        graph.add((shape, RDFS.label, Literal(spec.label)))
        graph.add((shape, RDFS.comment, Literal(spec.description)))
    elif spec.classes:
        graph.add((shape, SH.targetClass, URIRef(expand(spec.classes[0]))))
        graph.add((shape, RDFS.label, Literal(spec.name)))
    for fld in spec.fields:
        _property_shape(graph, shape, fld, "")


def _nested_specs() -> dict[str, NodeSpec]:
    found: dict[str, NodeSpec] = {}

    def walk(fields: tuple[Field, ...]) -> None:
        for fld in fields:
            if fld.kind is Kind.NODE and fld.node is not None and fld.node.name not in found:
                found[fld.node.name] = fld.node
                walk(fld.node.fields)

    for asset in ASSET_TYPES.values():
        walk(asset.fields)
    return dict(sorted(found.items()))


def _new_graph() -> Graph:
    graph = Graph()
    for prefix, ns in PREFIXES.items():
        graph.bind(prefix, ns)
    graph.bind("sh", SH)
    graph.bind("shapes", SHAPES)
    return graph


def build_shapes() -> dict[str, Graph]:
    """``{file stem: graph}`` for every shapes file."""
    files: dict[str, Graph] = {"common": _new_graph()}
    for spec in _nested_specs().values():
        _node_shape(files["common"], spec)
    for asset in ASSET_TYPES.values():
        graph = files.setdefault(asset.family, _new_graph())
        _node_shape(graph, asset)
    return files


def render_shapes() -> dict[str, str]:
    """``{file name: Turtle}``, deterministic so the committed files can be compared."""
    header = "# Generated by `aiod-kg generate` from kg/model/fields.py -- do not edit by hand.\n"
    return {
        f"{stem}.ttl": header + graph.serialize(format="turtle")
        for stem, graph in build_shapes().items()
    }
