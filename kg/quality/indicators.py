"""The indicators of the metadata quality score, modelled on data.europa.eu's Metadata Quality
Assessment (MQA): five dimensions (findability 100 points, accessibility 100,
interoperability 110, reusability 75, contextuality 20; 405 in all), each indicator worth the
points MQA gives its DCAT-AP counterpart, checked on the AIoD record. ``assess`` scores one
record; an indicator whose field the asset type does not have is not applicable (it counts
neither for nor against). docs/quality.md is the table in prose."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kg.model.fields import AssetType

JSON = dict[str, Any]
DIMENSIONS = ("findability", "accessibility", "interoperability", "reusability", "contextuality")
# MQA's rating bands over 405 points, as shares of the applicable points
RATINGS = (("excellent", 351 / 405), ("good", 221 / 405), ("sufficient", 121 / 405), ("bad", 0.0))
MACHINE_READABLE = frozenset(
    [
        "csv",
        "tsv",
        "json",
        "jsonl",
        "ndjson",
        "xml",
        "rdf",
        "ttl",
        "turtle",
        "nt",
        "n-triples",
        "jsonld",
        "json-ld",
        "parquet",
        "arrow",
        "feather",
        "arff",
        "hdf5",
        "h5",
        "netcdf",
        "nc",
        "npy",
        "npz",
        "avro",
        "orc",
        "sqlite",
        "xlsx",
        "xls",
        "ods",
        "yaml",
        "yml",
        "txt",
        "safetensors",
        "onnx",
        "pt",
        "pth",
        "bin",
        "pb",
        "h5",
        "tflite",
        "gguf",
        "pkl",
        "pickle",
    ]
)
PROPRIETARY = frozenset(
    ["xls", "xlsx", "doc", "docx", "pkl", "pickle", "mat", "sav", "dta", "sas7bdat", "pb"]
)
LICENSE_HOSTS = ("creativecommons.org", "opensource.org", "spdx.org", "data.europa.eu")
_SPDX = re.compile(
    r"^(cc0|cc-by|cc-by-sa|cc-by-nc|cc-by-nd|cc-by-nc-sa|cc-by-nc-nd|mit|apache|bsd|gpl|lgpl|"
    r"agpl|mpl|epl|odbl|odc-by|pddl|unlicense|openrail|bigscience|llama|gemma|artistic|isc|"
    r"zlib|wtfpl|afl|ecl|eupl|ofl|other)[\w.\-+]*$",
    re.IGNORECASE,
)
_MEDIA_TYPE = re.compile(r"^[a-z]+/[a-z0-9][\w.+\-]*$", re.IGNORECASE)


def _has(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has(v) for v in value.values())
    if isinstance(value, list | tuple | set):
        return any(_has(v) for v in value)
    return value is not None and value != ""


def _dists(data: JSON) -> list[JSON]:
    return [d for d in data.get("distribution") or [] if isinstance(d, dict)]


def _share(data: JSON, check: Callable[[JSON], bool]) -> float:
    """Share of the distributions passing ``check`` (0 without distributions)."""
    dists = _dists(data)
    return sum(1 for d in dists if check(d)) / len(dists) if dists else 0.0


def _best(data: JSON, check: Callable[[JSON], bool]) -> float:
    """MQA's 'identical content, several distributions': the best distribution counts."""
    return 1.0 if any(check(d) for d in _dists(data)) else 0.0


def _format(dist: JSON) -> str:
    value = str(dist.get("encoding_format") or "").strip().lower()
    if "/" in value:  # a media type: its subtype, without parameters and suffix
        value = value.split("/", 1)[1].split(";")[0].split("+")[0].removeprefix("x-")
        value = value.removeprefix("vnd.apache.").removeprefix("vnd.")
    if not value:
        name = str(dist.get("name") or dist.get("content_url") or "").lower()
        value = name.rsplit(".", 1)[-1] if "." in name.rsplit("/", 1)[-1] else ""
    return value


def _license_known(value: Any) -> bool:
    text = str(value or "").strip()
    if not text:
        return False
    lowered = text.lower()
    if lowered.startswith(("http://", "https://")):
        return any(host in lowered for host in LICENSE_HOSTS)
    return bool(_SPDX.match(lowered.replace(" ", "-")))


@dataclass(frozen=True)
class Indicator:
    key: str
    dimension: str
    points: int
    label: str  # what MQA checks, on the AIoD record
    advice: str  # what a publisher can do
    fields: tuple[str, ...]  # applicable when the asset type has one of these fields
    check: Callable[[JSON], float] = field(repr=False)


def _field(name: str) -> Callable[[JSON], float]:
    return lambda data: 1.0 if _has(data.get(name)) else 0.0


def _any_field(*names: str) -> Callable[[JSON], float]:
    return lambda data: 1.0 if any(_has(data.get(n)) for n in names) else 0.0


INDICATORS: tuple[Indicator, ...] = (
    # findability (100)
    Indicator(
        "keyword",
        "findability",
        30,
        "keywords (dcat:keyword)",
        "Add keywords.",
        ("keyword",),
        _field("keyword"),
    ),
    Indicator(
        "theme",
        "findability",
        30,
        "themes: research area, application area or scientific domain (dcat:theme)",
        "Choose research or application areas from AIoD's taxonomies.",
        ("research_area", "application_area", "scientific_domain"),
        _any_field("research_area", "application_area", "scientific_domain"),
    ),
    Indicator(
        "spatial",
        "findability",
        20,
        "spatial coverage (dct:spatial)",
        "State the geographic area the data covers.",
        ("spatial_coverage",),
        _field("spatial_coverage"),
    ),
    Indicator(
        "temporal",
        "findability",
        20,
        "temporal coverage (dct:temporal)",
        "State the period the data covers.",
        ("temporal_coverage",),
        _field("temporal_coverage"),
    ),
    # accessibility (100): MQA's reachability checks need outbound requests; aiod-kg checks
    # what the record states (docs/quality.md)
    Indicator(
        "access_url",
        "accessibility",
        50,
        "a way to the content: a distribution, the "
        "record's page upstream or a persistent identifier (dcat:accessURL)",
        "Give the URL of the record's page or of its content.",
        ("distribution", "same_as", "pid"),
        _any_field("distribution", "same_as", "pid"),
    ),
    Indicator(
        "download_url",
        "accessibility",
        20,
        "distributions with a download URL (dcat:downloadURL)",
        "Give every distribution a direct download URL.",
        ("distribution",),
        lambda d: _share(d, lambda x: _has(x.get("content_url"))),
    ),
    Indicator(
        "persistent_identifier",
        "accessibility",
        30,
        "a persistent identifier (DOI, handle; MQA: download URL reachable)",
        "Register a DOI and give it as pid.",
        ("pid", "permanent_identifier"),
        _any_field("pid", "permanent_identifier"),
    ),
    # interoperability (110)
    Indicator(
        "format",
        "interoperability",
        20,
        "the distribution's format (dct:format)",
        "State each distribution's format.",
        ("distribution",),
        lambda d: _best(d, lambda x: bool(_format(x))),
    ),
    Indicator(
        "media_type",
        "interoperability",
        10,
        "a media type (dcat:mediaType)",
        "Give the IANA media type, e.g. text/csv.",
        ("distribution",),
        lambda d: _best(
            d, lambda x: bool(_MEDIA_TYPE.match(str(x.get("encoding_format") or "").strip()))
        ),
    ),
    Indicator(
        "format_vocabulary",
        "interoperability",
        10,
        "format or media type from a vocabulary",
        "Use a known format or IANA media type.",
        ("distribution",),
        lambda d: _best(d, lambda x: _format(x) in MACHINE_READABLE | PROPRIETARY),
    ),
    Indicator(
        "non_proprietary",
        "interoperability",
        20,
        "a non-proprietary format",
        "Offer the content in an open format (CSV, Parquet, JSON, ...).",
        ("distribution",),
        lambda d: _best(d, lambda x: bool(_format(x)) and _format(x) not in PROPRIETARY),
    ),
    Indicator(
        "machine_readable",
        "interoperability",
        20,
        "a machine-readable format",
        "Offer the content in a machine-readable format.",
        ("distribution",),
        lambda d: _best(d, lambda x: _format(x) in MACHINE_READABLE),
    ),
    Indicator(
        "shacl",
        "interoperability",
        30,
        "conforms to the shapes (MQA: DCAT-AP compliance)",
        "",
        ("name",),
        lambda d: 1.0,
    ),  # every stored record was validated
    # reusability (75)
    Indicator(
        "license",
        "reusability",
        20,
        "a licence (dct:license)",
        "State the licence.",
        ("license",),
        _field("license"),
    ),
    Indicator(
        "license_vocabulary",
        "reusability",
        10,
        "a licence from a vocabulary (SPDX, Creative Commons)",
        "Give the licence as an SPDX identifier or licence URL.",
        ("license",),
        lambda d: 1.0 if _license_known(d.get("license")) else 0.0,
    ),
    Indicator(
        "access_rights",
        "reusability",
        10,
        "access rights (dct:accessRights: free of charge or pricing)",
        "Say whether access is free or how it is priced.",
        ("is_accessible_for_free", "pricing_info"),
        _any_field("is_accessible_for_free", "pricing_info"),
    ),
    Indicator(
        "access_rights_vocabulary",
        "reusability",
        5,
        "access rights as a controlled value",
        "Set is_accessible_for_free.",
        ("is_accessible_for_free",),
        lambda d: 1.0 if isinstance(d.get("is_accessible_for_free"), bool) else 0.0,
    ),
    Indicator(
        "contact_point",
        "reusability",
        20,
        "a contact point (dcat:contactPoint)",
        "Name a contact.",
        ("contact", "contacts"),
        _any_field("contact", "contacts"),
    ),
    Indicator(
        "publisher",
        "reusability",
        10,
        "a creator or publisher (dct:publisher)",
        "Name the creators.",
        ("creator",),
        _field("creator"),
    ),
    # contextuality (20)
    Indicator(
        "rights",
        "contextuality",
        5,
        "rights or copyright of the distributions (dct:rights)",
        "State the copyright holder.",
        ("distribution",),
        lambda d: _best(d, lambda x: _has(x.get("copyright"))),
    ),
    Indicator(
        "byte_size",
        "contextuality",
        5,
        "the size of the content (dcat:byteSize)",
        "Give each distribution's size.",
        ("distribution", "size"),
        lambda d: max(
            _share(d, lambda x: _has(x.get("content_size_kb"))), 1.0 if _has(d.get("size")) else 0.0
        ),
    ),
    Indicator(
        "issued",
        "contextuality",
        5,
        "the publication date (dct:issued)",
        "Give the publication date.",
        ("date_published",),
        _field("date_published"),
    ),
    Indicator(
        "modified",
        "contextuality",
        5,
        "the date of the last change (dct:modified)",
        "",
        ("aiod_entry",),
        lambda d: 1.0 if _has((d.get("aiod_entry") or {}).get("date_modified")) else 0.0,
    ),
)
BY_KEY = {i.key: i for i in INDICATORS}


@dataclass
class Assessment:
    points: float
    max_points: int  # of the applicable indicators
    dimensions: dict[str, float]  # share of each dimension's applicable points, in [0, 1]
    results: dict[str, float]  # indicator -> share in [0, 1]

    @property
    def score(self) -> float:
        return round(self.points / self.max_points, 4) if self.max_points else 0.0

    @property
    def rating(self) -> str:
        return next(name for name, floor in RATINGS if self.score >= floor)

    @property
    def problems(self) -> list[str]:
        """The indicators not fully met, worth most first."""
        missing = [k for k, v in self.results.items() if v < 1.0]
        return sorted(missing, key=lambda k: (-BY_KEY[k].points * (1 - self.results[k]), k))


_APPLICABLE: dict[str, list[Indicator]] = {}  # per asset type: the same for every record


def applicable(asset: AssetType) -> list[Indicator]:
    found = _APPLICABLE.get(asset.collection)
    if found is None:
        found = [i for i in INDICATORS if any(f in asset.by_name for f in i.fields)]
        _APPLICABLE[asset.collection] = found
    return found


def assess(asset: AssetType, data: JSON) -> Assessment:
    """The quality of one record (AIoD JSON) of type ``asset``."""
    results: dict[str, float] = {}
    got = dict.fromkeys(DIMENSIONS, 0.0)
    most = dict.fromkeys(DIMENSIONS, 0)
    for indicator in applicable(asset):
        value = max(0.0, min(1.0, float(indicator.check(data))))
        results[indicator.key] = round(value, 4)
        got[indicator.dimension] += value * indicator.points
        most[indicator.dimension] += indicator.points
    dimensions = {d: round(got[d] / most[d], 4) for d in DIMENSIONS if most[d]}
    return Assessment(round(sum(got.values()), 2), sum(most.values()), dimensions, results)
