"""JSON Schema of each asset type's AIoD JSON, generated from the field table (for OpenAPI)."""

from __future__ import annotations

from typing import Any

from kg.model.fields import AssetType, Field, Kind, NodeSpec

_SCALAR: dict[Kind, dict[str, Any]] = {
    Kind.STRING: {"type": "string"},
    Kind.IRI: {"type": "string", "format": "uri"},
    Kind.DATETIME: {"type": "string", "format": "date-time"},
    Kind.DATE: {"type": "string", "format": "date"},
    Kind.INTEGER: {"type": "integer"},
    Kind.DECIMAL: {"type": "number"},
    Kind.BOOLEAN: {"type": "boolean"},
    Kind.REF: {"type": "string", "description": "Identifier of another asset."},
}


def _field_schema(fld: Field, include_server: bool) -> dict[str, Any]:
    if fld.kind in (Kind.NODE, Kind.NEST):
        assert fld.node is not None
        schema = node_schema(fld.node, include_server)
    else:
        schema = dict(_SCALAR[fld.kind])
        if fld.enum:
            schema["enum"] = list(fld.enum)
        if fld.pattern:
            schema["pattern"] = fld.pattern
        if fld.max_length:
            schema["maxLength"] = fld.max_length
        if fld.min_value is not None:
            schema["minimum"] = fld.min_value
    if fld.description:
        schema["description"] = fld.description
    if fld.server:
        schema["readOnly"] = True
    return {"type": "array", "items": schema} if fld.many else schema


def node_schema(spec: NodeSpec | AssetType, include_server: bool = True) -> dict[str, Any]:
    props = {
        f.name: _field_schema(f, include_server)
        for f in spec.fields
        if include_server or not f.server
    }
    if not include_server:  # input: former AIoD names are still accepted
        for f in spec.fields:
            for alias in f.aliases:
                props[alias] = {**_field_schema(f, include_server), "deprecated": True}
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    required = [f.name for f in spec.fields if f.required and not f.server]
    if required:
        schema["required"] = required
    return schema


def asset_schema(asset: AssetType, for_input: bool) -> dict[str, Any]:
    schema = node_schema(asset, include_server=not for_input)
    schema["title"] = asset.label + ("Create" if for_input else "Read")
    if asset.description:
        schema["description"] = asset.description
    return schema
