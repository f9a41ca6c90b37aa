"""Reading public assets for the outward profiles (DCAT-AP, OAI-PMH formats, Croissant, ...).

A ``PublicRecord`` is an asset's AIoD JSON with its index row. ``RecordReader`` reads pages
of them and resolves the agents they reference (creators, contacts, funders) so that every
page or record a harvester gets is self-contained. Referenced assets that are not public
(drafts, deleted, unknown) are left out, never described.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES, PREFIX_TO_TYPE, AssetType
from kg.store.public_index import PublicIndex, Row

JSON = dict[str, Any]
AGENT_FIELDS: tuple[str, ...] = ("creator", "contact", "funder")


@dataclass(frozen=True)
class PublicRecord:
    asset: AssetType
    identifier: str
    iri: str
    data: JSON
    row: Row

    @property
    def name(self) -> str:
        return str(self.data.get("name") or self.identifier)

    @property
    def description(self) -> str | None:
        text = self.data.get("description")
        if isinstance(text, dict):
            plain = text.get("plain")
            if plain:
                return str(plain)
        return None

    @property
    def date_modified(self) -> str:
        return self.row.date_modified

    @property
    def date_created(self) -> str:
        return self.row.date_created


@dataclass(frozen=True)
class Agent:
    """A referenced person, organisation, team or contact, as far as it is public."""

    asset: AssetType
    identifier: str
    iri: str
    data: JSON

    @property
    def name(self) -> str:
        name = self.data.get("name")
        if name:
            return str(name)
        parts = [self.data.get("given_name"), self.data.get("surname")]
        joined = " ".join(str(p) for p in parts if p)
        return joined or self.identifier

    @property
    def is_person(self) -> bool:
        return self.asset.collection == "persons"

    @property
    def emails(self) -> list[str]:
        return [str(e) for e in self.data.get("email") or []]


def referenced_ids(data: JSON, fields: Sequence[str] = AGENT_FIELDS) -> list[str]:
    out: list[str] = []
    for name in fields:
        value = data.get(name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item not in out:
                out.append(item)
    return out


class RecordReader:
    """Reads public records and the agents they reference."""

    def __init__(self, catalog: Catalog, public: PublicIndex | None = None) -> None:
        self.catalog = catalog
        self.public = public or PublicIndex(catalog.index)

    def record(self, row: Row) -> PublicRecord | None:
        asset = ASSET_TYPES.get(row.type)
        if asset is None or row.deleted or not row.public:
            return None
        iri = self.catalog.iri(asset, row.identifier)
        if row.document is not None:  # the index's document cache: no store read
            return PublicRecord(asset, row.identifier, iri, orjson.loads(row.document), row)
        triples = self.catalog.store.graph(iri)
        if not triples:
            return None
        data = self.catalog.from_triples(asset, row.identifier, triples)
        return PublicRecord(asset, row.identifier, iri, data, row)

    def records(self, rows: Iterable[Row]) -> list[PublicRecord]:
        out = []
        for row in rows:
            record = self.record(row)
            if record is not None:
                out.append(record)
        return out

    def by_identifier(self, identifier: str) -> PublicRecord | None:
        row = self.public.get(identifier)
        return None if row is None else self.record(row)

    def agents(
        self, records: Iterable[PublicRecord], fields: Sequence[str] = AGENT_FIELDS
    ) -> dict[str, Agent]:
        """The public agents referenced by ``records``, by identifier."""
        wanted: dict[str, None] = {}
        for record in records:
            for identifier in referenced_ids(record.data, fields):
                wanted[identifier] = None
        found: dict[str, Agent] = {}
        for identifier in wanted:
            if identifier.partition("_")[0] not in PREFIX_TO_TYPE:
                continue
            agent = self.by_identifier(identifier)
            if agent is not None:
                found[identifier] = Agent(agent.asset, identifier, agent.iri, agent.data)
        return found
