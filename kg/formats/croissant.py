"""Croissant 1.1 (MLCommons) for datasets: export an AIoD dataset, import a Croissant file.

Export writes the standard Croissant @context, the dataset's schema.org metadata and one
``cr:FileObject`` per distribution that carries a checksum (Croissant requires ``md5`` or
``sha256`` on file objects, mlcroissant refuses the document otherwise); distributions without
one are listed as ``sc:DataDownload``s under ``associatedMedia``, which Croissant tools skip.
AIoD holds no record sets, so none are written.

Import reads a Croissant JSON document (any 1.x) into AIoD dataset JSON: name, description,
keywords, licence (SPDX ids become ``https://spdx.org/licenses/<id>``), url, version, dates,
file objects as distributions (checksums, sizes, formats) and ``citeAs`` as a note. Inline
creators and record sets have no place in AIoD's dataset record and are not imported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from kg.formats.records import Agent

JSON = dict[str, Any]
CROISSANT_NS = "http://mlcommons.org/croissant/"
CONFORMS_TO = "http://mlcommons.org/croissant/1.1"
PROFILE = CONFORMS_TO  # the profile parameter of application/ld+json

#: the Croissant 1.1 @context, as mlcroissant writes it
CONTEXT: JSON = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

SPDX_IDS = {
    "mit": "MIT",
    "apache-2.0": "Apache-2.0",
    "afl-3.0": "AFL-3.0",
    "cc0-1.0": "CC0-1.0",
    "cc-by-4.0": "CC-BY-4.0",
    "cc-by-sa-4.0": "CC-BY-SA-4.0",
    "cc-by-nc-4.0": "CC-BY-NC-4.0",
    "cc-by-nc-sa-4.0": "CC-BY-NC-SA-4.0",
    "cc-by-3.0": "CC-BY-3.0",
    "gpl-3.0": "GPL-3.0-only",
    "gpl-2.0": "GPL-2.0-only",
    "lgpl-3.0": "LGPL-3.0-only",
    "bsd-3-clause": "BSD-3-Clause",
    "bsd-2-clause": "BSD-2-Clause",
    "odbl": "ODbL-1.0",
    "odc-by": "ODC-By-1.0",
    "pddl": "PDDL-1.0",
    "unlicense": "Unlicense",
    "mpl-2.0": "MPL-2.0",
}
PLATFORM_HOSTS = {
    "zenodo.org": "zenodo",
    "openml.org": "openml",
    "huggingface.co": "huggingface",
    "kaggle.com": "kaggle",
}
_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]?i?B|bytes?)?\s*$", re.IGNORECASE)
_UNITS = {
    "": 1,
    "b": 1,
    "byte": 1,
    "bytes": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SPDX_TOKEN = re.compile(r"^[A-Za-z0-9.+\-]+$")


def is_croissant(document: object) -> bool:
    """A JSON document that declares conformance to Croissant (or uses its context)."""
    if not isinstance(document, dict):
        return False
    conforms = document.get("conformsTo") or document.get("dct:conformsTo")
    values = conforms if isinstance(conforms, list) else [conforms]
    if any(isinstance(v, str) and v.startswith(CROISSANT_NS) for v in values):
        return True
    context = document.get("@context")
    return isinstance(context, dict) and context.get("cr") == CROISSANT_NS


# --------------------------------------------------------------------------- export


def _checksum(dist: Mapping[str, Any]) -> tuple[str, str] | None:
    value, algorithm = dist.get("checksum"), str(dist.get("checksum_algorithm") or "").lower()
    algorithm = algorithm.replace("-", "")
    if isinstance(value, str) and algorithm in ("md5", "sha256"):
        return algorithm, value.lower()
    return None


def to_croissant(data: JSON, iri: str, agents: Mapping[str, Agent] | None = None) -> JSON:
    """A Croissant 1.1 document for one dataset's AIoD JSON."""
    agents = agents or {}
    description = data.get("description")
    text = description.get("plain") if isinstance(description, dict) else None
    doc: JSON = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "@id": iri,
        "conformsTo": CONFORMS_TO,
        "name": data.get("name") or data.get("identifier"),
        "description": text or data.get("name") or "",
        "url": data.get("same_as") or iri,
    }
    optional = {
        "license": data.get("license"),
        "version": data.get("version"),
        "datePublished": data.get("date_published"),
        "dateModified": (data.get("aiod_entry") or {}).get("date_modified"),
        "keywords": data.get("keyword") or None,
        "identifier": data.get("pid") or data.get("identifier"),
        "sameAs": data.get("relevant_link") or None,
        "isAccessibleForFree": data.get("is_accessible_for_free"),
        "temporalCoverage": data.get("temporal_coverage"),
        "measurementTechnique": data.get("measurement_technique"),
    }
    doc.update({k: v for k, v in optional.items() if v is not None})
    if data.get("pid"):
        doc["citeAs"] = data["pid"]
    creators = []
    for identifier in data.get("creator") or []:
        agent = agents.get(identifier)
        if agent is not None:
            kind = "sc:Person" if agent.is_person else "sc:Organization"
            creators.append({"@type": kind, "name": agent.name, "url": agent.iri})
    if creators:
        doc["creator"] = creators
    if data.get("platform"):
        doc["publisher"] = {"@type": "sc:Organization", "name": data["platform"]}
    distribution: list[JSON] = []
    downloads: list[JSON] = []
    for index, dist in enumerate(data.get("distribution") or []):
        url = dist.get("content_url")
        if not url:
            continue
        item: JSON = {
            "@id": f"distribution-{index + 1}",
            "name": dist.get("name") or f"distribution-{index + 1}",
            "contentUrl": url,
            "encodingFormat": dist.get("encoding_format") or "application/octet-stream",
        }
        if dist.get("description"):
            item["description"] = dist["description"]
        if isinstance(dist.get("content_size_kb"), int):
            item["contentSize"] = f"{dist['content_size_kb']} KB"
        checksum = _checksum(dist)
        if checksum is not None:
            item["@type"] = "cr:FileObject"
            item[checksum[0]] = checksum[1]
            distribution.append(item)
        else:
            item["@type"] = "sc:DataDownload"
            downloads.append(item)
    doc["distribution"] = distribution
    if downloads:
        doc["associatedMedia"] = downloads
    return doc


# --------------------------------------------------------------------------- import


def _text(value: Any) -> str | None:
    """A string from a plain value, a language map or a JSON-LD value object."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "@value" in value:
            return str(value["@value"])
        if value:
            return _text(value.get("en") or next(iter(value.values())))
    if isinstance(value, list) and value:
        return _text(value[0])
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _url(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("@id") or value.get("url")
    text = _text(value)
    return text if text and re.match(r"^https?://\S+$", text) else None


def license_iri(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    url = _url(value)
    if url:
        return url
    text = _text(value)
    if not text or not _SPDX_TOKEN.match(text) or text.lower() in ("other", "unknown"):
        return None
    return f"https://spdx.org/licenses/{SPDX_IDS.get(text.lower(), text)}"


def size_kb(value: Any) -> int | None:
    match = _SIZE_RE.match(_text(value) or "")
    if not match:
        return None
    unit = (match.group(2) or "").lower()
    return max(0, round(float(match.group(1)) * _UNITS.get(unit, 1) / 1024))


def platform_of(url: str) -> str:
    host = (urlsplit(url).hostname or "croissant").lower().removeprefix("www.")
    return PLATFORM_HOSTS.get(host, host)


def _types(item: Mapping[str, Any]) -> set[str]:
    value = item.get("@type")
    values = value if isinstance(value, list) else [value]
    return {str(v).rpartition("/")[2].rpartition(":")[2] for v in values if v}


def from_croissant(document: Mapping[str, Any]) -> JSON:
    """AIoD dataset JSON from a Croissant document."""
    name = _text(document.get("name")) or "Unnamed Croissant dataset"
    data: JSON = {"name": name[:256]}
    description = _text(document.get("description"))
    if description:
        data["description"] = {"plain": description}
    url = _url(document.get("url"))
    if url:
        data["same_as"] = url
        data["platform"] = platform_of(url)
        data["platform_resource_identifier"] = url
    keywords = document.get("keywords")
    if isinstance(keywords, str):
        keywords = [k.strip() for k in keywords.split(",")]
    if isinstance(keywords, list):
        data["keyword"] = sorted({t for k in keywords if (t := _text(k))})
    licence = license_iri(document.get("license"))
    if licence:
        data["license"] = licence
    version = _text(document.get("version"))
    if version:
        data["version"] = version
    published = _text(document.get("datePublished"))
    if published and re.match(r"^\d{4}-\d{2}-\d{2}", published):
        data["date_published"] = published[:19]
    free = document.get("isAccessibleForFree")
    if isinstance(free, bool):
        data["is_accessible_for_free"] = free
    same_as = document.get("sameAs")
    links = [u for u in (same_as if isinstance(same_as, list) else [same_as]) if _url(u)]
    if links:
        data["relevant_link"] = sorted({str(_url(u)) for u in links})
    cite = _text(document.get("citeAs"))
    if cite:
        data["note"] = [{"value": f"Cite as: {cite}"}]
    distributions = []
    for item in document.get("distribution") or []:
        if not isinstance(item, dict) or not {"FileObject", "DataDownload"} & _types(item):
            continue  # FileSets have no URL of their own
        content_url = _url(item.get("contentUrl"))
        if not content_url:
            continue
        dist: JSON = {"content_url": content_url}
        for key, target in (
            ("name", "name"),
            ("description", "description"),
            ("encodingFormat", "encoding_format"),
        ):
            value = _text(item.get(key))
            if value:
                dist[target] = value
        for algorithm in ("sha256", "md5"):
            value = _text(item.get(algorithm))
            if value and re.match(r"^[0-9a-fA-F]+$", value):
                dist["checksum"], dist["checksum_algorithm"] = value.lower(), algorithm
                break
        size = size_kb(item.get("contentSize"))
        if size is not None:
            dist["content_size_kb"] = size
        distributions.append(dist)
    if distributions:
        data["distribution"] = distributions
    return data
