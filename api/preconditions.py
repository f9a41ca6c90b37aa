"""Conditional writes: ``PUT`` honours ``If-Match`` so concurrent editors never lose an update.

The ETags are exactly those the GET side sends (api/linked_data.py): the content hash of the
cached AIoD JSON document, or the per-version-and-format tag of the other representations.
``If-Match`` is a list (RFC 9110 13.1.1: ``"a", "b"``, or several header lines): the write
goes ahead when any tag matches. The comparison is strong: ``W/`` tags never match. ``*`` (any
current representation) and no header at all keep the unconditional behaviour; a header that
is not a list of entity tags matches nothing (412).

A reviewer's accept is bound the same way (``review_precondition``): the ETag of the asset
they read (or of the pending revision, kg/access/revisions.py), 412 on any other.

The check runs inside the catalog's write lock (``Catalog.replace(precondition=...)``), so
two editors sending the same ETag cannot both pass it: the second gets ``412``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from api.linked_data import EXTRA, _etag, content_etag
from api.negotiation import BY_NAME
from kg.access.revisions import Revision
from kg.catalog import Catalog
from kg.errors import PreconditionFailed
from kg.model.fields import AssetType
from kg.store.index import Entry

_FORMATS = {f.name: f for f in (*BY_NAME.values(), *EXTRA.values())}


# one list member: optional weak prefix, a quoted opaque tag (etagc: %x21 / %x23-7E / obs-text)
_MEMBER = re.compile(r'\s*(?:(W/)?("[\x21\x23-\x7e\x80-\xff]*")|(\*))\s*(?:,|$)')


def parse_if_match(header: str | Sequence[str] | None) -> set[str] | None:
    """The strong entity tags of ``If-Match`` (one header value, or every header line's);
    None when absent or ``*``. Weak tags are dropped (strong comparison never matches them);
    a malformed list yields no tag at all, so nothing matches."""
    if header is None:
        return None
    text = header if isinstance(header, str) else ", ".join(header)
    if not text.strip():
        return None
    tags: set[str] = set()
    position = 0
    while position < len(text):
        if text[position:].strip(" \t,") == "":
            break
        match = _MEMBER.match(text, position)
        if match is None or match.end() == position:
            return set()
        weak, tag, star = match.groups()
        if star:
            return None
        if not weak:
            tags.add(tag)
        position = match.end()
    return tags


def current_etags(catalog: Catalog, asset: AssetType, entry: Entry) -> set[str]:
    """Every ETag a GET of the asset's current version may have sent."""
    tags = {_etag(entry.identifier, entry.date_modified, f) for f in _FORMATS.values()}
    cached = catalog.cached_document(asset, entry.identifier)
    if cached is not None:
        tags.add(content_etag(cached))
    return tags


def if_match(
    header: str | Sequence[str] | None, catalog: Catalog, asset: AssetType
) -> Callable[[Entry], None] | None:
    """The precondition for ``Catalog.replace``: raises 412 when no tag matches."""
    wanted = parse_if_match(header)
    if wanted is None:
        return None

    def check(entry: Entry) -> None:
        if not wanted & current_etags(catalog, asset, entry):
            raise PreconditionFailed(
                f"The {asset.singular} '{entry.identifier}' has changed since the version "
                "you sent in If-Match: GET it again, reapply your change, and retry."
            )

    return check


def review_precondition(
    tags: set[str] | None, catalog: Catalog, asset: AssetType
) -> Callable[[Entry, Revision | None], None] | None:
    """What a reviewer's accept must match: the pending revision's ETag when there is one,
    else one of the submitted asset's current ETags (``tags`` None: nothing sent)."""
    if tags is None:
        return None

    def check(entry: Entry, revision: Revision | None) -> None:
        current = {revision.etag} if revision is not None else current_etags(catalog, asset, entry)
        if not tags & current:
            raise PreconditionFailed(
                f"The {asset.singular} '{entry.identifier}' has changed since the version you "
                "reviewed: read it again (GET /submissions/{identifier} for an edit of a "
                "published asset) and review that version."
            )

    return check
