"""Conditional writes: ``PUT`` honours ``If-Match`` so concurrent editors never lose an update.

The ETags are exactly those the GET side sends (api/linked_data.py): the content hash of the
cached AIoD JSON document, or the per-version-and-format tag of the other representations.
The comparison is strong (RFC 9110 13.1.1): ``W/`` tags never match. ``If-Match: *`` (any
current representation) and no header at all keep the unconditional behaviour.

The check runs inside the catalog's write lock (``Catalog.replace(precondition=...)``), so
two editors sending the same ETag cannot both pass it: the second gets ``412``.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException

from api.linked_data import EXTRA, _etag, content_etag
from api.negotiation import BY_NAME
from kg.catalog import Catalog
from kg.model.fields import AssetType
from kg.store.index import Entry

_FORMATS = {f.name: f for f in (*BY_NAME.values(), *EXTRA.values())}


def parse_if_match(header: str | None) -> set[str] | None:
    """The entity tags of an ``If-Match`` header; None when absent or ``*``."""
    if header is None:
        return None
    tags = {t.strip() for t in header.split(",") if t.strip()}
    if "*" in tags:
        return None
    return tags


def current_etags(catalog: Catalog, asset: AssetType, entry: Entry) -> set[str]:
    """Every ETag a GET of the asset's current version may have sent."""
    tags = {_etag(entry.identifier, entry.date_modified, f) for f in _FORMATS.values()}
    cached = catalog.cached_document(asset, entry.identifier)
    if cached is not None:
        tags.add(content_etag(cached))
    return tags


def if_match(
    header: str | None, catalog: Catalog, asset: AssetType
) -> Callable[[Entry], None] | None:
    """The precondition for ``Catalog.replace``: raises 412 when no tag matches."""
    wanted = parse_if_match(header)
    if wanted is None:
        return None

    def check(entry: Entry) -> None:
        if not wanted & current_etags(catalog, asset, entry):
            raise HTTPException(
                412,
                f"The {asset.singular} '{entry.identifier}' has changed since the version "
                "you sent in If-Match: GET it again, reapply your change, and retry.",
            )

    return check
