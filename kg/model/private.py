"""Private fields: contact details only their owner, moderators and admins may see.

AIoD hides contact e-mail addresses from anonymous callers; aiod-kg keeps every contact
detail (``email``, ``telephone`` of ``contacts``) out of everything public: the public
partition of the store (so SPARQL and the dump), the cached AIoD JSON documents every public
channel reads (REST, search, ``/catalog``, OAI-PMH, landing pages), and change events. The
full record stays in the private partition (the catalog writes the private triples of a
published asset there, under the same graph IRI; kg/catalog.py). Who may see them is decided
in kg/access (``sees_private``); this module only says which fields and predicates they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kg.model.fields import ASSET_TYPES, AssetType
from kg.model.rdf_mapping import Triple

#: collection -> its private fields
PRIVATE_FIELDS: dict[str, tuple[str, ...]] = {"contacts": ("email", "telephone")}

#: collection -> the predicate IRIs of its private fields
PRIVATE_PREDICATES: dict[str, frozenset[str]] = {
    collection: frozenset(ASSET_TYPES[collection].by_name[name].iri for name in names)
    for collection, names in PRIVATE_FIELDS.items()
}


def has_private(asset: AssetType | str) -> bool:
    return (asset if isinstance(asset, str) else asset.collection) in PRIVATE_FIELDS


def public_view(asset: AssetType | str, data: dict[str, Any]) -> dict[str, Any]:
    """The record without its private fields (the record itself when it has none)."""
    names = PRIVATE_FIELDS.get(asset if isinstance(asset, str) else asset.collection)
    if not names or not any(n in data for n in names):
        return data
    return {k: v for k, v in data.items() if k not in names}


def split_triples(
    asset: AssetType | str, triples: Iterable[Triple]
) -> tuple[list[Triple], list[Triple]]:
    """(public triples, private triples) of one asset's graph."""
    predicates = PRIVATE_PREDICATES.get(asset if isinstance(asset, str) else asset.collection)
    public: list[Triple] = []
    private: list[Triple] = []
    for triple in triples:
        (private if predicates and triple[1] in predicates else public).append(triple)
    return public, private
