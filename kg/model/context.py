"""The JSON-LD context of the REST JSON, generated from the field table.

``build_context()`` is written to ``ontology/context.jsonld`` (``aiod-kg generate``; a test
checks the file is current). With it, an AIoD JSON document plus ``@id``/``@type`` is
JSON-LD whose triples are exactly those the catalog stores.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from kg.model.fields import ASSET_TYPES, XSD_OF_KIND, AssetType, Field, Kind, NodeSpec
from kg.model.namespaces import PREFIXES, compact, expand
from kg.model.rdf_mapping import DERIVED_IDENTIFIER_FIELDS

JSON = dict[str, Any]


def type_term(asset: AssetType) -> str:
    """The JSON-LD term naming an asset type's primary class: ``ml_model`` -> ``MlModel``."""
    return "".join(part.capitalize() for part in asset.singular.split("_"))


def _term(fld: Field) -> Any:
    definition: JSON = {"@id": compact(expand(fld.predicate))}
    if fld.kind in (Kind.IRI, Kind.REF):
        definition["@type"] = "@id"
    elif fld.kind in XSD_OF_KIND and fld.kind is not Kind.STRING:
        definition["@type"] = XSD_OF_KIND[fld.kind]
    elif fld.kind is Kind.NODE:
        assert fld.node is not None
        definition["@context"] = _terms(fld.node.fields)
    if fld.many:
        definition["@container"] = "@set"
    return definition


def _terms(fields: tuple[Field, ...]) -> JSON:
    terms: JSON = {}
    for fld in fields:
        if fld.name in DERIVED_IDENTIFIER_FIELDS:
            terms[fld.name] = None  # derived from the identifier: not data
        elif fld.kind is Kind.NEST:
            assert fld.node is not None
            terms[fld.name] = "@nest"
            terms.update(_terms(fld.node.fields))
        else:
            terms[fld.name] = _term(fld)
    return terms


def build_context() -> JSON:
    """The whole context: prefixes, the terms shared by all types, type-scoped overrides."""
    per_type = {name: _terms(asset.fields) for name, asset in ASSET_TYPES.items()}
    votes: Counter[tuple[str, str]] = Counter()
    defs: dict[tuple[str, str], Any] = {}
    for terms in per_type.values():
        for term, definition in terms.items():
            key = (term, repr(definition))
            votes[key] += 1
            defs[key] = definition
    shared: JSON = {}
    for (term, _), _count in votes.most_common():
        if term not in shared:
            shared[term] = defs[(term, _)]
    context: JSON = {"@version": 1.1}
    context.update(PREFIXES)
    for name, asset in ASSET_TYPES.items():
        overrides = {t: d for t, d in per_type[name].items() if shared.get(t) != d}
        type_def: JSON = {"@id": compact(expand(asset.primary_class))}
        if overrides:
            type_def["@context"] = overrides
        context[type_term(asset)] = type_def
    context.update(dict(sorted(shared.items())))
    return {"@context": context}


# --------------------------------------------------------------------------- JSON-LD documents


def _decorate(
    data: JSON,
    spec: NodeSpec | AssetType,
    node_iri: str,
    asset_iri: str,
    base: str,
    to_iri: Any,
) -> JSON:
    out: JSON = {"@id": node_iri}
    for name, value in data.items():
        fld = spec.by_name.get(name)
        if fld is None or name in DERIVED_IDENTIFIER_FIELDS:
            continue
        if fld.kind is Kind.NODE and fld.node is not None:
            node_spec = fld.node
            types = [compact(expand(c)) for c in node_spec.classes]
            local_base = node_iri.partition("#")[2]
            if fld.many:
                items = []
                for i, item in enumerate(value):
                    local = f"{name}-{i + 1}"
                    local = f"{local_base}.{local}" if local_base else local
                    child = _decorate(
                        item, node_spec, f"{asset_iri}#{local}", asset_iri, base, to_iri
                    )
                    items.append({"@type": types, **child} if types else child)
                out[name] = items
            else:
                local = f"{local_base}.{name}" if local_base else name
                child = _decorate(value, node_spec, f"{asset_iri}#{local}", asset_iri, base, to_iri)
                out[name] = {"@type": types, **child} if types else child
        elif fld.kind is Kind.REF:
            out[name] = [to_iri(v) for v in value] if fld.many else to_iri(value)
        else:
            out[name] = value
    return out


def asset_to_jsonld(asset: AssetType, data: JSON, iri: str, base_url: str, context: Any) -> JSON:
    """The JSON-LD form of an asset's AIoD JSON: the same keys plus ``@context``, ``@id``,
    ``@type``, nested node ``@id``s and references as absolute IRIs."""
    from kg.model.rdf_mapping import ref_iri

    def to_iri(value: Any) -> Any:
        return ref_iri(base_url, value) or value

    body = _decorate(data, asset, iri, iri, base_url, to_iri)
    types = [type_term(asset)] + [compact(expand(c)) for c in asset.classes[1:]]
    return {"@context": context, "@type": types, **body}
