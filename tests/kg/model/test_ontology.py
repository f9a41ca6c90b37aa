"""The ontology, the generated artefacts and the mapping document agree with kg/model/fields.py.

* ``ontology/aiod.ttl`` parses, declares (with a label and a comment) every ``aiod:`` class and
  predicate the field table uses, and nothing else in the ``aiod:`` namespace; its datatype
  ranges match the field kinds.
* Every asset type's primary class is aligned to the AIoD metadata model v3, and every v3 /
  FAIR4ML / ML-Schema term the ontology references exists in those vocabularies.
* ``ontology/context.jsonld``, ``shapes/*.ttl`` and ``docs/mapping.md`` are current.
"""

from __future__ import annotations

import json
from collections import defaultdict
from functools import cache

import pytest
from rdflib import BNode, Graph, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from kg.model.context import build_context
from kg.model.docs_gen import render_mapping_table
from kg.model.fields import ASSET_TYPES, XSD_OF_KIND, Field, Kind
from kg.model.namespaces import AIOD, AIODM, FAIR4ML, MLS, expand
from kg.model.shapes_gen import render_shapes
from tests.support.data import REPO, STANDARDS

ONTOLOGY = REPO / "ontology" / "aiod.ttl"
ONTOLOGY_IRI = URIRef("https://w3id.org/aiod-kg/ns")
ML_VOCABS = STANDARDS / "ml-vocabs"
AIODM_FILE = ML_VOCABS / "aiod-metadata-model-v3.0.ttl"

ALIGNMENT_PREDICATES = (
    OWL.equivalentClass,
    OWL.equivalentProperty,
    RDFS.subClassOf,
    RDFS.subPropertyOf,
    SKOS.exactMatch,
    SKOS.closeMatch,
    SKOS.broadMatch,
    SKOS.narrowMatch,
    SKOS.relatedMatch,
)
PROPERTY_TYPES = {OWL.DatatypeProperty, OWL.ObjectProperty, RDF.Property}
LITERAL_KINDS = set(XSD_OF_KIND)


@cache
def ontology() -> Graph:
    graph = Graph()
    graph.parse(ONTOLOGY, format="turtle")
    return graph


@cache
def vocabulary(name: str) -> Graph:
    graph = Graph()
    if name == "aiodm":
        graph.parse(AIODM_FILE, format="turtle")
    elif name == "fair4ml":
        graph.parse(ML_VOCABS / "fair4ml-0.1.0.jsonld", format="json-ld")
    elif name == "mls":
        graph.parse(ML_VOCABS / "MLSchema.ttl", format="turtle")
    return graph


def _walk(fields: tuple[Field, ...], seen: set[int], out: list[Field]) -> None:
    for fld in fields:
        out.append(fld)
        if fld.node is not None and id(fld.node) not in seen:
            seen.add(id(fld.node))
            _walk(fld.node.fields, seen, out)


def all_fields() -> list[Field]:
    """Every field of every asset type, nested node fields included."""
    out: list[Field] = []
    seen: set[int] = set()
    for asset in ASSET_TYPES.values():
        _walk(asset.fields, seen, out)
    return out


def used_classes() -> set[str]:
    classes = {expand(c) for asset in ASSET_TYPES.values() for c in asset.classes}
    classes |= {expand(c) for f in all_fields() if f.node is not None for c in f.node.classes}
    return classes


def fields_by_predicate() -> dict[str, list[Field]]:
    by_predicate: dict[str, list[Field]] = defaultdict(list)
    for fld in all_fields():
        by_predicate[expand(fld.predicate)].append(fld)
    return by_predicate


def aiod_terms_used() -> tuple[set[str], set[str]]:
    classes = {c for c in used_classes() if c.startswith(AIOD)}
    predicates = {p for p in fields_by_predicate() if p.startswith(AIOD)}
    return classes, predicates


# ---------------------------------------------------------------------------- the ontology


def test_ontology_parses_and_names_itself() -> None:
    graph = ontology()
    assert len(graph) > 100
    assert set(graph.subjects(RDF.type, OWL.Ontology)) == {ONTOLOGY_IRI}
    assert graph.value(ONTOLOGY_IRI, OWL.versionInfo) is not None


def test_every_aiod_class_used_is_declared_with_label_and_comment() -> None:
    graph = ontology()
    classes, _ = aiod_terms_used()
    assert classes, "the field table mints no class?"
    for iri in sorted(classes):
        term = URIRef(iri)
        assert (term, RDF.type, OWL.Class) in graph, f"{iri} is not declared as an owl:Class"
        assert graph.value(term, RDFS.label) is not None, f"{iri} has no rdfs:label"
        assert graph.value(term, RDFS.comment) is not None, f"{iri} has no rdfs:comment"


def test_every_aiod_predicate_used_is_declared_with_label_and_comment() -> None:
    graph = ontology()
    _, predicates = aiod_terms_used()
    for iri in sorted(predicates):
        term = URIRef(iri)
        types = set(graph.objects(term, RDF.type))
        assert types & PROPERTY_TYPES, f"{iri} is not declared as a property"
        assert graph.value(term, RDFS.label) is not None, f"{iri} has no rdfs:label"
        assert graph.value(term, RDFS.comment) is not None, f"{iri} has no rdfs:comment"


def test_ontology_declares_no_unused_aiod_terms() -> None:
    """Nothing stale: every aiod: class / property the ontology declares is in the field table."""
    graph = ontology()
    classes, predicates = aiod_terms_used()
    declared = {
        str(s)
        for t in (OWL.Class, *PROPERTY_TYPES)
        for s in graph.subjects(RDF.type, t)
        if str(s).startswith(AIOD)
    }
    assert declared == classes | predicates


def test_property_kinds_and_ranges_match_the_field_kinds() -> None:
    graph = ontology()
    for iri, fields in sorted(fields_by_predicate().items()):
        if not iri.startswith(AIOD):
            continue
        term = URIRef(iri)
        types = set(graph.objects(term, RDF.type))
        kinds = {f.kind for f in fields}
        declared_range = graph.value(term, RDFS.range)
        if kinds == {Kind.NEST}:
            assert types == {RDF.Property}, f"{iri} groups JSON members: a plain rdf:Property"
        elif kinds <= LITERAL_KINDS:
            assert OWL.DatatypeProperty in types, f"{iri}: literal values, not a datatype prop"
            xsd = {URIRef(expand(XSD_OF_KIND[k])) for k in kinds}
            assert len(xsd) == 1, f"{iri} is used with several datatypes: {sorted(xsd)}"
            assert declared_range in xsd, f"{iri}: rdfs:range {declared_range} != {xsd}"
        else:
            assert kinds <= {Kind.IRI, Kind.REF, Kind.NODE}, f"{iri} mixes kinds {kinds}"
            assert OWL.ObjectProperty in types, f"{iri}: IRI values, not an object property"
            nodes = {f.node.classes[0] for f in fields if f.node is not None and f.node.classes}
            if nodes:
                assert declared_range is not None, f"{iri}: no rdfs:range for its node class"
                assert {str(declared_range)} == {expand(c) for c in nodes}


def test_domains_are_classes_the_field_table_uses() -> None:
    graph = ontology()
    used = used_classes()
    domain_includes = URIRef("https://schema.org/domainIncludes")
    for subject, _, cls in (
        *graph.triples((None, RDFS.domain, None)),
        *graph.triples((None, domain_includes, None)),
    ):
        if str(subject).startswith(AIOD):
            assert str(cls) in used, f"{subject}: domain {cls} is not a class of the catalog"


# ----------------------------------------------------------------------------- alignment


def _aligned_terms(term: URIRef, namespace: str) -> set[str]:
    graph = ontology()
    found: set[str] = set()
    for predicate in ALIGNMENT_PREDICATES:
        for other in (*graph.objects(term, predicate), *graph.subjects(predicate, term)):
            if isinstance(other, URIRef) and str(other).startswith(namespace):
                found.add(str(other))
    return found


@pytest.mark.parametrize("collection", sorted(ASSET_TYPES))
def test_primary_class_is_aligned_to_the_aiod_v3_model(collection: str) -> None:
    primary = URIRef(expand(ASSET_TYPES[collection].primary_class))
    assert _aligned_terms(primary, AIODM), f"{primary} has no alignment to {AIODM}"


@pytest.mark.parametrize(
    ("name", "namespace"), [("aiodm", AIODM), ("fair4ml", FAIR4ML), ("mls", MLS)]
)
def test_referenced_vocabulary_terms_exist(name: str, namespace: str) -> None:
    """No typos: every aiodm: / fair4ml: / mls: term used in the ontology is defined there."""
    graph = ontology()
    referenced = {
        node
        for triple in graph
        for node in triple
        if isinstance(node, URIRef) and str(node).startswith(namespace) and str(node) != namespace
    }
    assert referenced, f"the ontology references no {name}: term"
    vocab = vocabulary(name)
    missing = sorted(str(t) for t in referenced if (t, RDF.type, None) not in vocab)
    assert not missing, f"not defined in the {name} vocabulary: {missing}"


def test_equivalences_with_the_v3_model_agree_on_kind_and_datatype() -> None:
    """An owl:equivalentProperty links two datatype or two object properties, never a mix, and
    literal ranges agree; an owl:equivalentClass links classes."""
    graph, v3 = ontology(), vocabulary("aiodm")
    for ours, _, theirs in graph.triples((None, OWL.equivalentProperty, None)):
        if not str(theirs).startswith(AIODM):
            continue
        our_types = set(graph.objects(ours, RDF.type)) & {OWL.DatatypeProperty, OWL.ObjectProperty}
        their_types = set(v3.objects(theirs, RDF.type)) & {
            OWL.DatatypeProperty,
            OWL.ObjectProperty,
        }
        assert our_types == their_types, f"{ours} {our_types} vs {theirs} {their_types}"
        our_range, their_range = graph.value(ours, RDFS.range), v3.value(theirs, RDFS.range)
        if OWL.DatatypeProperty in our_types and our_range and their_range:
            assert our_range == their_range, f"{ours} {our_range} vs {theirs} {their_range}"
    for ours, _, theirs in graph.triples((None, OWL.equivalentClass, None)):
        for term in (ours, theirs):
            if str(term).startswith(AIODM):
                assert (term, RDF.type, OWL.Class) in v3, f"{term} is not a v3 class"


def test_inverse_property_expressions_are_well_formed() -> None:
    graph = ontology()
    for node in {o for o in graph.objects(None, RDFS.subPropertyOf) if isinstance(o, BNode)}:
        assert isinstance(graph.value(node, OWL.inverseOf), URIRef)
        assert len(list(graph.predicate_objects(node))) == 1


# ------------------------------------------------------------------- generated artefacts


def test_context_jsonld_is_current() -> None:
    on_disk = json.loads((REPO / "ontology" / "context.jsonld").read_text(encoding="utf-8"))
    assert on_disk == build_context(), "run `aiod-kg generate`"


def test_shapes_are_current() -> None:
    rendered = render_shapes()
    on_disk = {p.name for p in (REPO / "shapes").glob("*.ttl")}
    assert on_disk == set(rendered), "run `aiod-kg generate`"
    for name, text in rendered.items():
        assert (REPO / "shapes" / name).read_text(encoding="utf-8") == text, (
            f"shapes/{name} is stale: run `aiod-kg generate`"
        )


def test_mapping_document_is_current() -> None:
    on_disk = (REPO / "docs" / "mapping.md").read_text(encoding="utf-8")
    assert on_disk == render_mapping_table(), "docs/mapping.md is stale: run `aiod-kg generate`"


def test_mapping_document_covers_every_field() -> None:
    text = render_mapping_table()
    for asset in ASSET_TYPES.values():
        section = text.split(f'<a id="{asset.collection}"></a>', 1)[1].split("<a id=", 1)[0]
        for fld in asset.fields:
            names = (
                [f"{fld.name}.{sub.name}" for sub in fld.node.fields]
                if fld.kind is Kind.NEST and fld.node is not None
                else [fld.name]
            )
            for name in names:
                assert f"| `{name}` |" in section, f"{asset.collection}.{name} missing"
