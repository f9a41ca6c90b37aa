"""Asset identifiers: ``<prefix>_<24 letters/digits>``, as in AIoD v2."""

from __future__ import annotations

import re
import secrets
import string

from kg.model.fields import AssetType

_ALPHABET = string.ascii_letters + string.digits
IDENTIFIER_RE = re.compile(r"^([a-z]+)_([A-Za-z0-9]{24})$")


def new_identifier(asset: AssetType) -> str:
    """A fresh identifier: 24 characters from a CSPRNG (~142 bits; the modulo bias is harmless
    for identifiers)."""
    return f"{asset.prefix}_" + "".join(_ALPHABET[b % 62] for b in secrets.token_bytes(24))


def is_identifier_of(asset: AssetType, identifier: str) -> bool:
    match = IDENTIFIER_RE.match(identifier)
    return bool(match) and match.group(1) == asset.prefix  # type: ignore[union-attr]
