"""A stored file as the asset's AIoD ``distribution`` entry (``dcat:Distribution``).

The entry's ``content_url`` (``dcat:downloadURL``) is the file's URL on this server,
``{base}/{type}/{identifier}/files/{name}``; ``checksum`` (``spdx:checksumValue``) its sha256
with ``checksum_algorithm`` ``sha256``; ``content_size_kb`` its size in KiB (rounded up);
``encoding_format`` its media type. Those entries are how metadata refers to stored objects.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

from kg.files.store import SHA256_RE, ObjectStat
from kg.model.fields import AssetType

JSON = dict[str, Any]


def file_url(base: str, asset: AssetType, identifier: str, name: str) -> str:
    return f"{base}/{asset.collection}/{identifier}/files/{quote(name, safe='')}"


def files_prefix(base: str, asset: AssetType, identifier: str) -> str:
    return f"{base}/{asset.collection}/{identifier}/files/"


def entry(url: str, name: str, stat: ObjectStat, media_type: str) -> JSON:
    return {
        "name": name,
        "content_url": url,
        "content_size_kb": (stat.size + 1023) // 1024,
        "encoding_format": media_type,
        "checksum": stat.sha256,
        "checksum_algorithm": "sha256",
    }


def distributions(data: JSON) -> list[JSON]:
    found = data.get("distribution") or []
    return [d for d in found if isinstance(d, dict)]


def with_file(data: JSON, new: JSON) -> JSON:
    """``data`` with ``new`` replacing the distribution of the same URL, or appended."""
    url = new["content_url"]
    kept = [d for d in distributions(data) if d.get("content_url") != url]
    found = (i for i, d in enumerate(distributions(data)) if d.get("content_url") == url)
    position = next(found, len(kept))
    kept.insert(position, new)
    return {**data, "distribution": kept}


def without_file(data: JSON, url: str) -> JSON:
    return {**data, "distribution": [d for d in distributions(data) if d.get("content_url") != url]}


def find(data: JSON, url: str) -> JSON | None:
    return next((d for d in distributions(data) if d.get("content_url") == url), None)


def stored_files(data: JSON, prefix: str) -> list[tuple[str, str]]:
    """``(name, sha256)`` of the distributions that are files stored here."""
    out = []
    for dist in distributions(data):
        url = dist.get("content_url")
        checksum = str(dist.get("checksum") or "").lower()
        if isinstance(url, str) and url.startswith(prefix) and SHA256_RE.match(checksum):
            out.append((unquote(url[len(prefix) :]), checksum))
    return out
