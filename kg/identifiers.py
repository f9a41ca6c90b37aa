"""Asset identifiers: ``<prefix>_<24 letters/digits>``, as in AIoD v2."""

from __future__ import annotations

import re
import secrets
import string

from kg.fields import AssetType

_ALPHABET = string.ascii_letters + string.digits
IDENTIFIER_RE = re.compile(r"^([a-z]+)_([A-Za-z0-9]{24})$")


def new_identifier(asset: AssetType) -> str:
    return f"{asset.prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def is_identifier_of(asset: AssetType, identifier: str) -> bool:
    match = IDENTIFIER_RE.match(identifier)
    return bool(match) and match.group(1) == asset.prefix  # type: ignore[union-attr]
