"""Assets in every output format: AIoD JSON, JSON-LD, Turtle, N-Triples, RDF/XML."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import orjson

from kg.catalog import Catalog
from kg.model.context import asset_to_jsonld, build_context
from kg.model.fields import AssetType
from kg.model.rdf_mapping import Triple
from kg.store.embedded import serialize_triples

RDF_SERIALISATIONS = {"turtle", "ntriples", "rdfxml"}


@lru_cache(maxsize=1)
def inline_context() -> dict[str, Any]:
    context: dict[str, Any] = build_context()["@context"]
    return context


def jsonld_document(catalog: Catalog, asset: AssetType, data: dict[str, Any]) -> dict[str, Any]:
    iri = catalog.iri(asset, str(data["identifier"]))
    return asset_to_jsonld(asset, data, iri, catalog.base_url, inline_context())


def render_one(catalog: Catalog, asset: AssetType, identifier: str, fmt: str) -> bytes:
    """One asset in ``fmt``; raises NotFound."""
    if fmt in RDF_SERIALISATIONS:
        return serialize_triples(catalog.triples(asset, identifier), fmt)
    document = catalog.document(asset, identifier)
    if fmt == "jsonld":
        return orjson.dumps(jsonld_document(catalog, asset, orjson.loads(document)))
    return document


def render_many(
    catalog: Catalog, asset: AssetType, items: Sequence[dict[str, Any]], fmt: str
) -> bytes:
    """A list of assets (already read as AIoD JSON) in ``fmt``."""
    if fmt == "json":
        return orjson.dumps(list(items))
    if fmt == "json-bytes":
        raise ValueError("use render_documents")
    if fmt == "jsonld":
        graph = []
        for data in items:
            doc = jsonld_document(catalog, asset, data)
            doc.pop("@context")
            graph.append(doc)
        return orjson.dumps({"@context": inline_context(), "@graph": graph})
    triples: list[Triple] = []
    for data in items:
        triples.extend(catalog.triples(asset, str(data["identifier"])))  # no private fields
    return serialize_triples(triples, fmt)
