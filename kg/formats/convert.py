"""Offline conversions of one asset between AIoD JSON, JSON-LD, Turtle (N-Triples, RDF/XML)
and Croissant, with the same field table the server uses (no server needed).

``convert(document, source, target, asset_type)``: ``document`` is a dict (JSON, JSON-LD,
Croissant) or text/bytes in ``source`` format; the answer is a dict for ``json``, ``jsonld``
and ``croissant``, text for the RDF serialisations. A record without an ``identifier`` gets a
placeholder IRI (``{base}/{type}/{prefix}_000...``).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from kg.errors import CatalogError, ParseError
from kg.formats.croissant import from_croissant, is_croissant, to_croissant
from kg.formats.rdf_input import asset_from_rdf, parse_jsonld, parse_rdf
from kg.model.context import asset_to_jsonld, build_context
from kg.model.fields import ASSET_TYPES, AssetType
from kg.model.rdf_mapping import asset_iri, asset_to_triples
from kg.store.embedded import serialize_triples

JSON = dict[str, Any]
FormatName = Literal["json", "jsonld", "turtle", "ntriples", "rdfxml", "croissant"]
FORMAT_NAMES: tuple[str, ...] = ("json", "jsonld", "turtle", "ntriples", "rdfxml", "croissant")
RDF_TEXT = ("turtle", "ntriples", "rdfxml")
ALIASES = {
    "json-ld": "jsonld",
    "ttl": "turtle",
    "nt": "ntriples",
    "rdf": "rdfxml",
    "xml": "rdfxml",
    "aiod": "json",
}
DEFAULT_BASE = "http://127.0.0.1:8000"


class ConversionError(CatalogError):
    """The document cannot be read in the source format or written in the target format."""


def format_name(name: str) -> str:
    key = ALIASES.get(name.lower(), name.lower())
    if key not in FORMAT_NAMES:
        raise ConversionError(f"Unknown format {name!r}; one of: {', '.join(FORMAT_NAMES)}.")
    return key


def _asset(asset_type: str | AssetType) -> AssetType:
    if isinstance(asset_type, AssetType):
        return asset_type
    asset = ASSET_TYPES.get(asset_type)
    if asset is None:
        raise ConversionError(
            f"Unknown asset type {asset_type!r}; one of: {', '.join(ASSET_TYPES)}."
        )
    return asset


def _json_document(document: Any) -> Any:
    if isinstance(document, (bytes, bytearray)):
        document = document.decode("utf-8")
    if isinstance(document, str):
        try:
            return json.loads(document)
        except json.JSONDecodeError as exc:
            raise ParseError(f"Not valid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    return document


def _bytes(document: Any) -> bytes:
    if isinstance(document, bytes):
        return document
    if isinstance(document, str):
        return document.encode("utf-8")
    raise ConversionError("RDF input must be text or bytes.")


def to_record(
    document: Any,
    source: str,
    asset_type: str | AssetType = "datasets",
    base_url: str = DEFAULT_BASE,
) -> JSON:
    """The AIoD JSON of ``document`` (in ``source`` format)."""
    source = format_name(source)
    asset = _asset(asset_type)
    base = base_url.rstrip("/")
    if source in ("json", "jsonld", "croissant"):
        parsed = _json_document(document)
        if source == "croissant" or (asset.collection == "datasets" and is_croissant(parsed)):
            if not is_croissant(parsed):
                raise ConversionError(
                    "Not a Croissant document (no Croissant conformsTo or @context)."
                )
            return from_croissant(parsed)
        if source == "json":
            if not isinstance(parsed, dict):
                raise ConversionError("AIoD JSON of one asset is a JSON object.")
            return dict(parsed)
        return asset_from_rdf(asset, parse_jsonld(parsed, base), base)
    return asset_from_rdf(asset, parse_rdf(_bytes(document), source, base + "/"), base)


def _iri(asset: AssetType, record: JSON, base: str) -> str:
    identifier = record.get("identifier")
    if not isinstance(identifier, str) or not identifier:
        identifier = f"{asset.prefix}_{'0' * 24}"
    return asset_iri(base, asset, identifier)


def _server_fields(asset: AssetType, record: JSON) -> JSON:
    """Fields the server sets that a record read from a server carries (kept in RDF)."""
    out: JSON = {}
    if isinstance(record.get("identifier"), str) and "identifier" in asset.by_name:
        out["identifier"] = record["identifier"]
    entry = record.get("aiod_entry")
    if isinstance(entry, dict) and "aiod_entry" in asset.by_name:
        kept = {
            k: v
            for k, v in entry.items()
            if k in ("status", "date_created", "date_modified") and v is not None
        }
        if kept:
            out["aiod_entry"] = kept
    return out


def from_record(
    record: JSON,
    target: str,
    asset_type: str | AssetType = "datasets",
    base_url: str = DEFAULT_BASE,
) -> JSON | str:
    """``record`` (AIoD JSON) in ``target`` format: a dict, or text for RDF serialisations."""
    target = format_name(target)
    asset = _asset(asset_type)
    base = base_url.rstrip("/")
    if target == "json":
        return dict(record)
    iri = _iri(asset, record, base)
    if target == "croissant":
        if asset.collection != "datasets":
            raise ConversionError("Croissant describes datasets only.")
        return to_croissant(record, iri)
    if target == "jsonld":
        return asset_to_jsonld(asset, record, iri, base, build_context()["@context"])
    conversion = asset_to_triples(asset, record, iri, base, _server_fields(asset, record))
    if conversion.problems:
        details = "; ".join(f"{p.field or '(record)'}: {p.message}" for p in conversion.problems)
        raise ConversionError(f"The record cannot be mapped to RDF: {details}")
    return serialize_triples(conversion.triples, target).decode("utf-8")


def convert(
    document: Any,
    source: str,
    target: str,
    asset_type: str | AssetType = "datasets",
    base_url: str = DEFAULT_BASE,
) -> JSON | str:
    """Convert one asset from ``source`` to ``target`` format (see the module docstring)."""
    if format_name(source) == format_name(target) and isinstance(document, dict):
        return dict(document)
    return from_record(
        to_record(document, source, asset_type, base_url), target, asset_type, base_url
    )


def reserialize(body: bytes, source: str, target: str, base_url: str = DEFAULT_BASE) -> bytes:
    """RDF text from one serialisation to another (``turtle``, ``ntriples``, ``rdfxml``)."""
    source, target = format_name(source), format_name(target)
    if source not in RDF_TEXT or target not in RDF_TEXT:
        raise ConversionError("reserialize converts between turtle, ntriples and rdfxml.")
    return serialize_triples(parse_rdf(body, source, base_url.rstrip("/") + "/"), target)
