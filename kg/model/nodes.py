"""The enumerations and the nested objects (distribution, address, location, hardware, ...)
that the field table's asset types share."""

from __future__ import annotations

import json
from pathlib import Path

from kg.model.field_types import Field, Kind, NodeSpec

# --------------------------------------------------------------------------- enumerations

ENUM_DIR = Path(__file__).resolve().parent / "enums"


def _enum(name: str) -> tuple[str, ...]:
    return tuple(json.loads((ENUM_DIR / f"{name}.json").read_text(encoding="utf-8")))


# AIoD's four statuses, plus "restricted" (aiod-kg): finished but shared only with the users and
# groups granted read access (kg/access/rules.py); like drafts it never enters the public partition.
STATUS_VALUES = (*_enum("status"), "restricted")
EVENT_MODES = _enum("event_modes")
EVENT_STATUS = _enum("event_status")
ORGANISATION_TYPES = _enum("organisation_types")
EDUCATIONAL_RESOURCE_TYPES = _enum("educational_resource_types")
NEWS_CATEGORIES = _enum("news_categories")

LANGUAGE_PATTERN = r"^[a-z]{3}$"  # ISO 639-3, as AIoD's language taxonomy
IDENTIFIER_PATTERN = r"^[a-z]+_[A-Za-z0-9]{24}$"

# --------------------------------------------------------------------------- nested nodes

TEXT = NodeSpec(
    "text",
    (),
    (
        Field("plain", "dct:description", description="Plain-text description."),
        Field("html", "aiod:descriptionHtml", description="The description as HTML."),
    ),
)

CONTENT = NodeSpec(
    "content",
    ("aiod:Content",),
    (
        Field("plain", "schema:text", description="The content as plain text."),
        Field("html", "aiod:html", description="The content as HTML."),
    ),
)

_MEDIA_FIELDS: tuple[Field, ...] = (
    Field("checksum", "spdx:checksumValue", pattern=r"^[0-9a-fA-F]+$"),
    Field("checksum_algorithm", "aiod:checksumAlgorithm"),
    Field("copyright", "schema:copyrightNotice"),
    Field("content_url", "dcat:downloadURL", Kind.IRI, required=True),
    Field("content_size_kb", "aiod:contentSizeKb", Kind.INTEGER, min_value=0),
    Field("date_published", "dct:issued", Kind.DATETIME),
    Field("description", "dct:description"),
    Field("encoding_format", "schema:encodingFormat"),
    Field("name", "schema:name"),
)

_DISTRIBUTION_FIELDS: tuple[Field, ...] = (
    *_MEDIA_FIELDS,
    Field("technology_readiness_level", "aiod:technologyReadinessLevel", Kind.INTEGER, min_value=1),
    Field("installation_script", "aiod:installationScript"),
    Field("installation", "aiod:installation"),
    Field(
        "installation_time_milliseconds",
        "aiod:installationTimeMilliseconds",
        Kind.INTEGER,
        min_value=0,
    ),
    Field("deployment_script", "aiod:deploymentScript"),
    Field("deployment", "aiod:deployment"),
    Field(
        "deployment_time_milliseconds", "aiod:deploymentTimeMilliseconds", Kind.INTEGER, min_value=0
    ),
    Field("os_requirement", "aiod:osRequirement"),
    Field("dependency", "aiod:dependency"),
    Field("hardware_requirement", "aiod:hardwareRequirement"),
)

DISTRIBUTION = NodeSpec("distribution", ("dcat:Distribution",), _DISTRIBUTION_FIELDS)
# AIoD stores media as distributions too (the examples carry distribution fields in media).
MEDIA = NodeSpec("media", ("schema:MediaObject",), _DISTRIBUTION_FIELDS)

NOTE = NodeSpec("note", ("aiod:Note",), (Field("value", "rdf:value", required=True),))

ADDRESS = NodeSpec(
    "address",
    ("schema:PostalAddress",),
    (
        Field("region", "schema:addressRegion"),
        Field("locality", "schema:addressLocality"),
        Field("street", "schema:streetAddress"),
        Field("postal_code", "schema:postalCode"),
        Field("address", "aiod:fullAddress"),
        Field(
            "country",
            "schema:addressCountry",
            pattern=r"^[A-Z]{3}$",
            description="ISO 3166-1 alpha-3 country code",
        ),
    ),
)

GEO = NodeSpec(
    "geo",
    ("schema:GeoCoordinates",),
    (
        Field("latitude", "schema:latitude", Kind.DECIMAL),
        Field("longitude", "schema:longitude", Kind.DECIMAL),
        Field("elevation_millimeters", "aiod:elevationMillimeters", Kind.INTEGER),
    ),
)

LOCATION = NodeSpec(
    "location",
    ("dct:Location",),
    (
        Field("address", "schema:address", Kind.NODE, node=ADDRESS),
        Field("geo", "schema:geo", Kind.NODE, node=GEO),
    ),
)

SIZE = NodeSpec(
    "size",
    ("schema:QuantitativeValue",),
    (
        Field("unit", "schema:unitText", required=True),
        Field("value", "schema:value", Kind.INTEGER, required=True, min_value=0),
    ),
)

_BANDWIDTH = "In megabytes per second."

CPU = NodeSpec(
    "cpu",
    ("aiod:Cpu",),
    (
        Field("num_cpu_cores", "aiod:numCpuCores", Kind.INTEGER, min_value=0),
        Field("architecture", "aiod:architecture", description="e.g. x86_64, ARM"),
        Field("vendor", "aiod:vendor"),
        Field("model_name", "aiod:modelName"),
        Field("cpu_family", "aiod:cpuFamily"),
        Field("clock_speed", "aiod:clockSpeed", Kind.DECIMAL, min_value=0, description="In GHz."),
    ),
)

MEMORY = NodeSpec(
    "memory",
    ("aiod:Memory",),
    (
        Field("type", "dct:type", description="e.g. RAM"),
        Field("amount_gb", "aiod:amountGb", Kind.INTEGER, min_value=0),
        Field("read_bandwidth", "aiod:readBandwidth", Kind.INTEGER, min_value=0),
        Field("write_bandwidth", "aiod:writeBandwidth", Kind.INTEGER, min_value=0),
        Field("rdma", "aiod:rdma", description="Remote direct memory access technology."),
    ),
)

ACCELERATOR = NodeSpec(
    "accelerator",
    ("aiod:Accelerator",),
    (
        Field("vendor", "aiod:vendor"),
        Field("type", "dct:type", description="e.g. GPU, TPU"),
        Field("model_name", "aiod:modelName"),
        Field("architecture", "aiod:architecture"),
        Field("cores", "aiod:cores", Kind.INTEGER, min_value=0),
        Field("memory", "aiod:memoryGb", Kind.INTEGER, min_value=0, description="In GB."),
    ),
)

STORAGE = NodeSpec(
    "storage",
    ("aiod:Storage",),
    (
        Field("model", "aiod:storageModel"),
        Field("vendor", "aiod:vendor"),
        Field("amount", "aiod:amountGb", Kind.INTEGER, min_value=0, description="In GB."),
        Field("type", "dct:type", description="e.g. SSD"),
        Field("read_bandwidth", "aiod:readBandwidth", Kind.INTEGER, min_value=0),
        Field("write_bandwidth", "aiod:writeBandwidth", Kind.INTEGER, min_value=0),
    ),
)

AIOD_ENTRY = NodeSpec(
    "aiod_entry",
    ("dcat:CatalogRecord",),
    (
        Field("editor", "aiod:editor", many=True),
        Field("status", "aiod:status", enum=STATUS_VALUES),
        Field("date_created", "dct:created", Kind.DATETIME, server=True),
        Field("date_modified", "dct:modified", Kind.DATETIME, server=True),
    ),
)
