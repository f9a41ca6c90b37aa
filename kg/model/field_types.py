"""The vocabulary of the field table: field kinds and their XSD datatypes, ``Field``,
``NodeSpec`` (a nested object) and ``AssetType``. The table itself is ``kg.model.fields``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property


class Kind(StrEnum):
    """What a JSON value becomes in RDF."""

    STRING = "string"  # xsd:string literal
    IRI = "iri"  # an absolute URL, stored as an IRI
    DATETIME = "datetime"  # xsd:dateTime
    DATE = "date"  # xsd:date
    INTEGER = "integer"  # xsd:integer
    DECIMAL = "decimal"  # xsd:decimal (JSON numbers, integral ones come back as ints)
    BOOLEAN = "boolean"  # xsd:boolean
    REF = "ref"  # identifier of another asset, stored as that asset's IRI
    NODE = "node"  # nested JSON object, stored as a node with its own IRI
    NEST = "nest"  # nested JSON object whose fields are properties of the parent


XSD_OF_KIND: dict[Kind, str] = {
    Kind.STRING: "xsd:string",
    Kind.DATETIME: "xsd:dateTime",
    Kind.DATE: "xsd:date",
    Kind.INTEGER: "xsd:integer",
    Kind.DECIMAL: "xsd:decimal",
    Kind.BOOLEAN: "xsd:boolean",
}


@dataclass(frozen=True)
class Field:
    """One JSON field and the RDF predicate that holds it."""

    name: str
    predicate: str  # CURIE, see kg.namespaces.PREFIXES
    kind: Kind = Kind.STRING
    many: bool = False
    required: bool = False
    enum: tuple[str, ...] | None = None
    node: NodeSpec | None = None  # for Kind.NODE and Kind.NEST
    server: bool = False  # set by the server; ignored on input
    pattern: str | None = None
    min_value: float | None = None
    max_length: int | None = None
    description: str = ""
    aliases: tuple[str, ...] = ()  # former AIoD names, accepted on input only

    @cached_property
    def iri(self) -> str:
        """The predicate as a full IRI."""
        from kg.model.namespaces import expand

        return expand(self.predicate)


@dataclass(frozen=True)
class NodeSpec:
    """A nested object type (distribution, location, ...)."""

    name: str
    classes: tuple[str, ...]
    fields: tuple[Field, ...]

    @cached_property
    def by_name(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    @cached_property
    def by_input_name(self) -> dict[str, Field]:
        """Fields by name and by their former names (aliases), for reading input."""
        return _by_input_name(self.fields)


def _by_input_name(fields: tuple[Field, ...]) -> dict[str, Field]:
    found = {alias: f for f in fields for alias in f.aliases}
    found.update((f.name, f) for f in fields)
    return found


def canonical_names(spec: NodeSpec | AssetType, data: dict[str, object]) -> dict[str, object]:
    """``data`` with former field names replaced by today's (top level only)."""
    known = spec.by_input_name
    return {(known[k].name if k in known else k): v for k, v in data.items()}


@dataclass(frozen=True)
class AssetType:
    """One AIoD asset type: its REST collection, identifier prefix, classes and fields."""

    collection: str  # REST path segment, e.g. "datasets"
    singular: str  # e.g. "dataset"; "<Singular> '<id>' not found in the database."
    prefix: str  # identifier prefix, e.g. "data"
    classes: tuple[str, ...]  # rdf:type values, first is the primary class
    fields: tuple[Field, ...]
    family: str  # shapes/<family>.ttl
    description: str = ""

    @cached_property
    def by_name(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    @cached_property
    def by_input_name(self) -> dict[str, Field]:
        """Fields by name and by their former names (aliases), for reading input."""
        return _by_input_name(self.fields)

    @property
    def label(self) -> str:
        return self.singular.capitalize()

    @property
    def primary_class(self) -> str:
        return self.classes[0]
