"""Turning AIoD JSON records into validated, writable assets: no store, no lock, no index.

This module owns the pure half of a write (docs/design.md section 2): the server fields
(identifier, ``aiod_entry``, the user platform), the field-table mapping to triples, SHACL
validation, the storability check of IRIs, and the AIoD JSON document GET will answer. It
depends only on its arguments, so it runs the same in the writer's process (``kg.catalog``)
and in the worker processes of a bulk import (``kg.bulk``), whose results are pickled back.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kg.model.fields import AssetType
from kg.model.identifiers import new_identifier
from kg.model.private import has_private, public_view, split_triples
from kg.model.rdf_mapping import (
    Conversion,
    Problem,
    Triple,
    asset_iri,
    asset_to_triples,
    triples_to_asset,
)
from kg.model.validation import validate_conversions
from kg.store.embedded import iri_ref, nt_term, unsafe_terms
from kg.store.index import Entry
from kg.store.partition import is_public_status

JSON = dict[str, Any]
DEFAULT_STATUS = "published"
ENTRY_DATES = ("http://purl.org/dc/terms/created", "http://purl.org/dc/terms/modified")
USER_PLATFORM = "aiod"


@dataclass
class SaveResult:
    """Outcome of one record of a batch write."""

    index: int
    identifier: str | None = None
    created: bool = False
    problems: list[Problem] = field(default_factory=list)
    conflict: str | None = None  # identifier of the existing asset with the same platform id

    @property
    def ok(self) -> bool:
        return self.identifier is not None and not self.problems and self.conflict is None


@dataclass
class Prepared:
    """A record converted and validated, ready for the writer."""

    index: int
    identifier: str
    entry: Entry
    conversion: Conversion
    created: bool
    data: JSON | None = None  # the asset as GET will return it (rendered late or by a worker)
    # a new asset serialised by a bulk import's worker (``serialise``): N-Quads of its graph
    # (for its partition) and of its private fields (for the private one); ``conversion``
    # then holds only the triples a commit restamps (``aiod_entry``'s dates)
    quads: tuple[bytes, bytes] | None = None


def unstorable(conversion: Conversion) -> list[Problem]:
    """Problems for IRIs the store's writer could not serialise (defence in depth: the field
    mapping refuses them first, kg.model.iris)."""
    return [
        Problem("", "This value cannot be stored as an IRI.", value)
        for value in unsafe_terms(conversion.triples)
    ]


def prepare_record(
    asset: AssetType,
    base_url: str,
    position: int,
    data: Any,
    identifier: str | None,
    previous: Entry | None,
    timestamp: str,
) -> Prepared | SaveResult:
    """One record's triples and index row (not validated yet), or why it cannot be read."""
    if not isinstance(data, dict):
        return SaveResult(position, problems=[Problem("", "Expected a JSON object.", data)])
    identifier = identifier or new_identifier(asset)
    data = dict(data)
    if asset.collection != "platforms":
        has_platform = data.get("platform") is not None
        has_id = data.get("platform_resource_identifier") is not None
        if not has_platform and not has_id:
            data["platform"] = USER_PLATFORM
            data["platform_resource_identifier"] = identifier
    given_entry = data.get("aiod_entry")
    given_status = given_entry.get("status") if isinstance(given_entry, dict) else None
    status = given_status or (previous.status if previous else None) or DEFAULT_STATUS
    entry_fields: JSON = {
        "status": status,
        "date_created": previous.date_created if previous else timestamp,
        "date_modified": timestamp,
    }
    iri = asset_iri(base_url, asset, identifier)
    server: JSON = {"identifier": identifier}
    if "aiod_entry" in asset.by_name:
        server["aiod_entry"] = entry_fields
    conversion = asset_to_triples(asset, data, iri, base_url, server)
    platform = data.get("platform") if asset.collection != "platforms" else None
    resource_id = data.get("platform_resource_identifier")
    entry = Entry(
        identifier=identifier,
        type=asset.collection,
        platform=platform if isinstance(platform, str) else None,
        platform_resource_identifier=resource_id if isinstance(resource_id, str) else None,
        status=status if isinstance(status, str) else None,
        date_created=entry_fields["date_created"],
        date_modified=timestamp,
    )
    return Prepared(position, identifier, entry, conversion, previous is None)


def prepare_batch(
    asset: AssetType,
    base_url: str,
    records: Sequence[Any],
    timestamp: str,
    validator: str,
    previous: Sequence[Entry | None] | None = None,
    timings: dict[str, float] | None = None,
) -> tuple[dict[int, SaveResult], list[Prepared]]:
    """Map and validate records: (refused ones by position, valid ones). ``previous[i]``:
    the asset record ``i`` replaces (an upsert), whose identifier and creation it keeps.
    ``timings`` (when given) accumulates the seconds of the ``convert`` and ``validate``
    stages."""
    clock = time.perf_counter()
    results: dict[int, SaveResult] = {}
    prepared: list[Prepared] = []
    for position, data in enumerate(records):
        before = previous[position] if previous is not None else None
        item = prepare_record(
            asset,
            base_url,
            position,
            data,
            before.identifier if before else None,
            before,
            timestamp,
        )
        if isinstance(item, SaveResult):
            results[position] = item
        else:
            prepared.append(item)
    validating = time.perf_counter()
    problems = validate_conversions(
        [p.conversion for p in prepared],
        engine=validator,
    )
    valid: list[Prepared] = []
    for item in prepared:
        found = problems.get(item.conversion.iri) or unstorable(item.conversion)
        if found:
            results[item.index] = SaveResult(item.index, problems=found)
        else:
            valid.append(item)
    if timings is not None:
        timings["convert"] = timings.get("convert", 0.0) + validating - clock
        timings["validate"] = timings.get("validate", 0.0) + time.perf_counter() - validating
    return results, valid


def render(item: Prepared, asset: AssetType, base_url: str) -> JSON:
    """The asset's AIoD JSON as GET returns it (no private fields), from its triples."""
    iri = item.conversion.iri
    return public_view(asset, triples_to_asset(asset, iri, item.conversion.triples, base_url))


def nquads(graph: str, triples: Sequence[Triple]) -> bytes:
    """The triples as N-Quads in ``graph`` (what the store's bulk loader reads)."""
    name = iri_ref(graph)
    return "".join(
        f"{iri_ref(s)} {iri_ref(p)} {nt_term(o)} {name} .\n" for s, p, o in triples
    ).encode()


def serialise(item: Prepared) -> None:
    """Turn a new asset's graph into N-Quads (``Prepared.quads``), keeping as triples only
    those a commit restamps; its private fields apart when the asset is public."""
    iri = item.conversion.iri
    node = iri + "#aiod_entry"
    stamped = [t for t in item.conversion.triples if t[0] == node and t[1] in ENTRY_DATES]
    rest = [t for t in item.conversion.triples if not (t[0] == node and t[1] in ENTRY_DATES)]
    hidden: list[Triple] = []
    if is_public_status(item.entry.status) and has_private(item.entry.type):
        rest, hidden = split_triples(item.entry.type, rest)
    item.quads = (nquads(iri, rest), nquads(iri, hidden))
    item.conversion = Conversion(iri, stamped)
