"""AIoD JSON <-> RDF, driven by the field table in ``kg.model.fields``.

Triples are plain tuples here (``(subject IRI, predicate IRI, Term)``) so that one
conversion feeds both pyoxigraph (the store) and rdflib (pyshacl validation) cheaply.

Nested objects become nodes with IRIs derived from the asset IRI (``<asset>#distribution-1``,
``<asset>#location-1.address``): stable, dereferenceable through the asset, and they keep the
order of nested lists. Multi-valued literals are sets in RDF and come back sorted.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from kg.model.fields import (
    ASSET_TYPES,
    PREFIX_TO_TYPE,
    XSD_OF_KIND,
    AssetType,
    Field,
    Kind,
    NodeSpec,
)
from kg.model.iris import check_iri, is_valid_iri
from kg.model.namespaces import RDF_TYPE, SCHEMA, SCHEMA_HTTP, XSD, expand


class IRI(NamedTuple):
    value: str


class Lit(NamedTuple):
    lexical: str
    datatype: str  # full IRI


Term = IRI | Lit
Triple = tuple[str, str, Term]

XSD_STRING = XSD + "string"
XSD_INTEGER = XSD + "integer"
XSD_DECIMAL = XSD + "decimal"
XSD_BOOLEAN = XSD + "boolean"
XSD_DOUBLE = XSD + "double"

_IRI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+$")
_IDENTIFIER_RE = re.compile(r"^([a-z]+)_[A-Za-z0-9]{24}$")
_DATE_ONLY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FRACTION_ZEROS_RE = re.compile(r"(?<=:\d\d)(\.\d*?0+)(?=(Z|[+-]\d\d:\d\d)?$)")
_LEGACY_REF_SEGMENT = "resources"

# Server-set identifier fields that AIoD v2 derives from the identifier; never stored.
DERIVED_IDENTIFIER_FIELDS = frozenset(
    {"ai_resource_identifier", "ai_asset_identifier", "agent_identifier"}
)


@dataclass(frozen=True)
class Problem:
    """One reason a record was refused, addressed by its AIoD JSON path."""

    field: str
    message: str
    value: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message, "value": self.value}


@dataclass
class NodeInfo:
    """Where a generated RDF node sits in the JSON document (used to report problems)."""

    path: str
    spec: NodeSpec | AssetType


@dataclass
class Conversion:
    """The result of mapping one JSON asset to RDF."""

    iri: str
    triples: list[Triple] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    nodes: dict[str, NodeInfo] = field(default_factory=dict)
    # (subject, term) -> JSON path of an item of a multi-valued field, e.g. "keyword[2]"
    value_paths: dict[tuple[str, Term], str] = field(default_factory=dict)


def asset_iri(base_url: str, asset: AssetType, identifier: str) -> str:
    return f"{base_url.rstrip('/')}/{asset.collection}/{identifier}"


def is_iri(value: str) -> bool:
    """An absolute IRI by RFC 3987 (kg.model.iris; which schemes a field takes is checked
    when a record is mapped)."""
    return bool(_IRI_RE.match(value)) and is_valid_iri(value)


def normalise_iri(value: str) -> str:
    """One form for schema.org: ``http://schema.org/x`` is read as ``https://schema.org/x``."""
    if value.startswith(SCHEMA_HTTP):
        return SCHEMA + value[len(SCHEMA_HTTP) :]
    return value


def ref_iri(base_url: str, value: Any) -> str | None:
    """The IRI of a referenced asset: ``prsn_...`` -> ``<base>/persons/prsn_...``.

    Integers are accepted as legacy (AIoD v1) identifiers. Anything else is not a reference.
    """
    base = base_url.rstrip("/")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return f"{base}/{_LEGACY_REF_SEGMENT}/{value}"
    if isinstance(value, str):
        match = _IDENTIFIER_RE.match(value)
        if match and match.group(1) in PREFIX_TO_TYPE:
            return f"{base}/{PREFIX_TO_TYPE[match.group(1)].collection}/{value}"
    return None


def ref_value(base_url: str, iri: str) -> str | int | None:
    """The JSON value of a reference IRI (inverse of ``ref_iri``)."""
    base = base_url.rstrip("/") + "/"
    if not iri.startswith(base):
        return None
    collection, _, ident = iri[len(base) :].partition("/")
    if collection == _LEGACY_REF_SEGMENT and ident.lstrip("-").isdigit():
        return int(ident)
    if collection in ASSET_TYPES and ident:
        return ident
    return None


# --------------------------------------------------------------------------- JSON -> RDF


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null"


def _decimal_lexical(value: int | float) -> str:
    try:
        text = format(Decimal(str(value)), "f")
    except InvalidOperation:  # inf, nan
        return str(value)
    if "." in text:
        text = text.rstrip("0").rstrip(".") or "0"
    return text


def literal_for(fld: Field, value: Any) -> Term:
    """The RDF term for one scalar JSON value of ``fld``.

    Values of the wrong JSON type still become a literal (of the type they have), so that
    the SHACL shapes report them with the same message as any other datatype problem.
    """
    kind = fld.kind
    if isinstance(value, bool):
        if kind is Kind.BOOLEAN:
            return Lit("true" if value else "false", XSD_BOOLEAN)
        return Lit("true" if value else "false", XSD_BOOLEAN)
    if isinstance(value, int):
        if kind is Kind.DECIMAL:
            return Lit(str(value), XSD_DECIMAL)
        return Lit(str(value), XSD_INTEGER)
    if isinstance(value, float):
        if kind is Kind.INTEGER and value.is_integer():
            return Lit(str(int(value)), XSD_INTEGER)
        if kind in (Kind.DECIMAL, Kind.INTEGER):
            return Lit(_decimal_lexical(value), XSD_DECIMAL)
        return Lit(repr(value), XSD_DOUBLE)
    text = str(value)
    if kind is Kind.IRI:
        return IRI(normalise_iri(text)) if is_iri(text) else Lit(text, XSD_STRING)
    if kind is Kind.DATETIME:
        if _DATE_ONLY_RE.match(text):
            text += "T00:00:00"
        # the canonical form the store keeps: no trailing zeros in fractional seconds
        text = _FRACTION_ZEROS_RE.sub(lambda m: m.group(1).rstrip("0").rstrip("."), text)
        return Lit(text, XSD + "dateTime")
    if kind in XSD_OF_KIND:
        return Lit(text, expand(XSD_OF_KIND[kind]))
    return Lit(text, XSD_STRING)


class _Mapper:
    def __init__(self, base_url: str, conversion: Conversion) -> None:
        self.base_url = base_url
        self.out = conversion

    def problem(self, path: str, message: str, value: Any = None) -> None:
        self.out.problems.append(Problem(path, message, value))

    def fields(
        self,
        subject: str,
        spec: NodeSpec | AssetType,
        data: dict[str, Any],
        path: str,
        node_base: str,
    ) -> None:
        known = spec.by_input_name  # today's names and former ones (aliases)
        for name, value in data.items():
            fpath = f"{path}.{name}" if path else name
            fld = known.get(name)
            if fld is None:
                if name.startswith("@"):
                    continue  # JSON-LD keywords in an AIoD JSON-LD body
                self.problem(fpath, "Unknown field.", value)
                continue
            if fld.server or value is None:
                continue
            self.field(subject, fld, value, fpath, node_base)

    def field(self, subject: str, fld: Field, value: Any, path: str, node_base: str) -> None:
        predicate = fld.iri
        if fld.kind is Kind.NEST:
            if not isinstance(value, dict):
                self.problem(path, f"Expected an object, got {_json_kind(value)}.", value)
                return
            assert fld.node is not None
            self.fields(subject, fld.node, value, path, node_base)
            return
        values: list[Any]
        if fld.many:
            if not isinstance(value, list):
                self.problem(path, f"Expected a list, got {_json_kind(value)}.", value)
                return
            values = value
        else:
            if isinstance(value, list):
                self.problem(path, "Expected a single value, got a list.", value)
                return
            values = [value]
        for index, item in enumerate(values):
            ipath = f"{path}[{index}]" if fld.many else path
            if item is None:
                continue
            if fld.kind is Kind.NODE:
                self.node(subject, predicate, fld, item, ipath, node_base, index)
                continue
            if isinstance(item, (dict, list)):
                self.problem(ipath, f"Expected a single value, got {_json_kind(item)}.", item)
                continue
            if fld.kind is Kind.IRI and isinstance(item, str):
                refused = check_iri(item, fld.name)  # RFC 3987 and the field's schemes
                if refused is not None:
                    self.problem(ipath, refused, item)
                    continue
            if fld.kind is Kind.REF:
                target = ref_iri(self.base_url, item)
                if target is None:
                    self.problem(
                        ipath,
                        "Not an asset identifier (expected '<prefix>_<24 letters/digits>', "
                        "e.g. 'prsn_...', or a legacy integer identifier).",
                        item,
                    )
                    continue
                self.out.triples.append((subject, predicate, IRI(target)))
                continue
            term = literal_for(fld, item)
            if fld.many:
                self.out.value_paths[(subject, term)] = ipath
            self.out.triples.append((subject, predicate, term))

    def node(
        self,
        subject: str,
        predicate: str,
        fld: Field,
        item: Any,
        path: str,
        node_base: str,
        index: int,
    ) -> None:
        if not isinstance(item, dict):
            self.problem(path, f"Expected an object, got {_json_kind(item)}.", item)
            return
        assert fld.node is not None
        local = f"{fld.name}-{index + 1}" if fld.many else fld.name
        local = f"{node_base}.{local}" if node_base else local
        node = f"{self.out.iri}#{local}"
        self.out.nodes[node] = NodeInfo(path, fld.node)
        self.out.triples.append((subject, predicate, IRI(node)))
        for cls in fld.node.classes:
            self.out.triples.append((node, RDF_TYPE, IRI(expand(cls))))
        self.fields(node, fld.node, item, path, local)


def asset_to_triples(
    asset: AssetType,
    data: dict[str, Any],
    iri: str,
    base_url: str,
    server_fields: dict[str, Any] | None = None,
) -> Conversion:
    """Map one AIoD JSON asset to triples. Problems found on the way are collected, not raised.

    ``server_fields`` are written after the user's data: ``identifier`` and the
    ``aiod_entry`` dates (and status, when the server decides it).
    """
    out = Conversion(iri)
    out.nodes[iri] = NodeInfo("", asset)
    mapper = _Mapper(base_url, out)
    if not isinstance(data, dict):
        out.problems.append(Problem("", f"Expected a JSON object, got {_json_kind(data)}."))
        return out
    for cls in asset.classes:
        out.triples.append((iri, RDF_TYPE, IRI(expand(cls))))
    mapper.fields(iri, asset, data, "", "")
    for name, value in (server_fields or {}).items():
        if name == "aiod_entry":
            _server_entry(mapper, asset, iri, value)
        elif value is not None:
            fld = asset.by_name[name]
            out.triples.append((iri, fld.iri, literal_for(fld, value)))
    return out


def _server_entry(mapper: _Mapper, asset: AssetType, iri: str, entry: dict[str, Any]) -> None:
    fld = asset.by_name.get("aiod_entry")
    if fld is None or fld.node is None:
        return
    node = f"{iri}#aiod_entry"
    out = mapper.out
    if node not in out.nodes:
        out.nodes[node] = NodeInfo("aiod_entry", fld.node)
        out.triples.append((iri, expand(fld.predicate), IRI(node)))
        for cls in fld.node.classes:
            out.triples.append((node, RDF_TYPE, IRI(expand(cls))))
    overridden = {expand(fld.node.by_name[k].predicate) for k in entry}
    out.triples[:] = [t for t in out.triples if not (t[0] == node and t[1] in overridden)]
    for name, value in entry.items():
        sub = fld.node.by_name[name]
        values = value if sub.many else [value]
        for item in values:
            if item is not None:
                out.triples.append((node, expand(sub.predicate), literal_for(sub, item)))


# --------------------------------------------------------------------------- RDF -> JSON


def _node_order(iri: str) -> tuple[int, str]:
    local = iri.rpartition("#")[2].rpartition(".")[2]
    _, _, number = local.rpartition("-")
    return (int(number), iri) if number.isdigit() else (0, iri)


def _json_value(fld: Field, term: Term, base_url: str) -> Any:
    if isinstance(term, IRI):
        if fld.kind is Kind.REF:
            ref = ref_value(base_url, term.value)
            return ref if ref is not None else term.value
        return term.value
    lexical, datatype = term
    if datatype == XSD_BOOLEAN:
        return lexical in ("true", "1")
    if datatype == XSD_INTEGER or datatype.endswith(("#int", "#long", "#nonNegativeInteger")):
        try:
            return int(lexical)
        except ValueError:
            return lexical
    if datatype in (XSD_DECIMAL, XSD_DOUBLE, XSD + "float"):
        try:
            number = Decimal(lexical)
        except InvalidOperation:
            return lexical
        return int(number) if number == number.to_integral_value() else float(number)
    return lexical


def _sort_key(value: Any) -> tuple[int, str]:
    return (0, f"{value:020d}") if isinstance(value, int) else (1, str(value))


def _read_fields(
    index: dict[str, dict[str, list[Term]]],
    subject: str,
    spec: NodeSpec | AssetType,
    base_url: str,
    into: dict[str, Any],
) -> None:
    props = index.get(subject, {})
    for fld in spec.fields:
        if fld.kind is Kind.NEST:
            nested: dict[str, Any] = {}
            assert fld.node is not None
            _read_fields(index, subject, fld.node, base_url, nested)
            if nested:
                into[fld.name] = nested
            continue
        terms = props.get(fld.iri, [])
        if fld.kind is Kind.NODE:
            assert fld.node is not None
            nodes = sorted((t.value for t in terms if isinstance(t, IRI)), key=_node_order)
            objs = []
            for node in nodes:
                obj: dict[str, Any] = {}
                _read_fields(index, node, fld.node, base_url, obj)
                objs.append(obj)
            if fld.many:
                into[fld.name] = objs
            elif objs:
                into[fld.name] = objs[0]
            continue
        values = [_json_value(fld, t, base_url) for t in terms]
        if fld.many:
            into[fld.name] = sorted(values, key=_sort_key)
        elif values:
            into[fld.name] = values[0]


def triples_to_asset(
    asset: AssetType, iri: str, triples: list[Triple], base_url: str
) -> dict[str, Any]:
    """Read one asset back from its graph's triples into AIoD JSON."""
    index: dict[str, dict[str, list[Term]]] = defaultdict(lambda: defaultdict(list))
    for s, p, o in triples:
        index[s][p].append(o)
    out: dict[str, Any] = {}
    _read_fields(index, iri, asset, base_url, out)
    identifier = out.get("identifier")
    if identifier:
        for name in DERIVED_IDENTIFIER_FIELDS:
            if name in asset.by_name:
                out[name] = identifier
    return out
