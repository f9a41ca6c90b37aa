"""File names as uploaders give them: checked (never rewritten), and the headers to serve them.

A name is one path segment: no ``/`` or ``\\``, not ``.`` or ``..``, no control or format
characters, at most 255 UTF-8 bytes, NFC-normalised. Stored objects are addressed by their
hash, so a name never reaches the file system; the checks keep URLs, headers and downloads
(``Content-Disposition``) unambiguous.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from urllib.parse import quote

MAX_NAME_BYTES = 255
_MEDIA_TYPE_RE = re.compile(r"^[a-zA-Z0-9][\w.+-]*/[a-zA-Z0-9][\w.+-]*$")
DEFAULT_MEDIA_TYPE = "application/octet-stream"


class BadName(ValueError):
    """A file name that cannot be stored."""


def checked_name(name: str) -> str:
    """The NFC form of ``name``; BadName says why it is refused."""
    name = unicodedata.normalize("NFC", name)
    if not name or name in (".", ".."):
        raise BadName("A file name must not be empty, '.' or '..'.")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise BadName(f"A file name has at most {MAX_NAME_BYTES} bytes (UTF-8).")
    for char in name:
        if char in "/\\":
            raise BadName("A file name must not contain '/' or '\\' (one name, no path).")
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            raise BadName(f"A file name must not contain control characters ({char!r}).")
    if name != name.strip():
        raise BadName("A file name must not start or end with white space.")
    return name


def media_type(name: str, declared: str | None = None) -> str:
    """The declared ``Content-Type`` (without parameters) when well-formed, else a guess from
    the name's extension, else application/octet-stream."""
    if declared:
        value = declared.split(";", 1)[0].strip().lower()
        if _MEDIA_TYPE_RE.match(value) and value != "application/x-www-form-urlencoded":
            return value
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or DEFAULT_MEDIA_TYPE


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback and the exact name (RFC 6266 / 8187)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\%;' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
