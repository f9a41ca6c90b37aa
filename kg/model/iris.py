"""Which strings may become IRIs: RFC 3987 syntax plus an allow-list of schemes per field.

Every URL-valued field of the field table (``Kind.IRI``) goes through ``check_iri`` when AIoD
JSON becomes RDF (``kg.model.rdf_mapping``), so REST writes, harvests and imports are held to
the same rule. A value is either

* an absolute IRI (RFC 3987 ``IRI`` production) whose scheme is allowed for the field -- it is
  stored as an IRI; or
* plain text that does not start like an IRI at all (``MIT``, ``CC BY 4.0``) -- it is stored as
  a string literal, as before (licences are often given as names).

Anything else is refused with a message: control characters (C0, DEL, C1), bidirectional
formatting characters (RFC 3987 section 4.1), characters outside the grammar (space,
``<>"{}|\\^```), surrounding whitespace, and schemes that are not on the list
(``javascript:``, ``data:``, ``vbscript:``, ``file:`` ... in any case). The grammar is
the ABNF of RFC 3987 section 2.2
compiled into one regular expression: ``rfc3987`` is GPL-licensed, ``rfc3987-syntax`` parses
with an Earley parser (~20 ms per IRI, too slow for harvests) and ``rfc3986`` does not check
IRI characters.
"""

from __future__ import annotations

import ipaddress
import re

#: schemes every URL-valued field accepts
WEB_SCHEMES = frozenset({"http", "https"})
#: persistent-identifier fields also accept identifier schemes (``doi:10.1000/182``, ``urn:``)
IDENTIFIER_SCHEMES = WEB_SCHEMES | {"doi", "urn", "info", "ark", "hdl"}
#: per field name (``Field.name`` of a ``Kind.IRI`` field); the rest: ``WEB_SCHEMES``
FIELD_SCHEMES: dict[str, frozenset[str]] = {
    "pid": IDENTIFIER_SCHEMES,
    "permanent_identifier": IDENTIFIER_SCHEMES,
    "same_as": IDENTIFIER_SCHEMES,
}

_UCSCHAR = (
    "\u00a0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef"
    "\U00010000-\U0001fffd\U00020000-\U0002fffd\U00030000-\U0003fffd"
    "\U00040000-\U0004fffd\U00050000-\U0005fffd\U00060000-\U0006fffd"
    "\U00070000-\U0007fffd\U00080000-\U0008fffd\U00090000-\U0009fffd"
    "\U000a0000-\U000afffd\U000b0000-\U000bfffd\U000c0000-\U000cfffd"
    "\U000d0000-\U000dfffd\U000e1000-\U000efffd"
)
_IPRIVATE = "\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd"
_UNRESERVED = "A-Za-z0-9\\-._~" + _UCSCHAR
_SUB_DELIMS = "!$&'()*+,;="
_PCT = "%[0-9A-Fa-f]{2}"
_IPCHAR = f"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
_USERINFO = f"(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*"
_REG_NAME = f"(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})*"
_IP_LITERAL = r"\[(?P<ip>[0-9A-Fa-f:.]+|v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+)\]"
_AUTHORITY = f"(?:{_USERINFO}@)?(?:{_IP_LITERAL}|{_REG_NAME})(?::[0-9]*)?"
_SEGMENT = f"{_IPCHAR}*"
_SEGMENT_NZ = f"{_IPCHAR}+"
_HIER_PART = (
    f"(?://{_AUTHORITY}(?:/{_SEGMENT})*"
    f"|/(?:{_SEGMENT_NZ}(?:/{_SEGMENT})*)?"
    f"|{_SEGMENT_NZ}(?:/{_SEGMENT})*"
    "|)"
)
_QUERY = f"(?:{_IPCHAR}|[{_IPRIVATE}/?])*"
_FRAGMENT = f"(?:{_IPCHAR}|[/?])*"
SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
IRI_RE = re.compile(
    f"(?P<scheme>{SCHEME_RE.pattern}):{_HIER_PART}(?:\\?{_QUERY})?(?:#{_FRAGMENT})?", re.ASCII
)
# a value that means to be an IRI: "<scheme>:" followed by something that is not a space
_LOOKS_LIKE_IRI = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+\-.]*:(?!\s|$)")
# C0 and C1 controls, DEL, and the bidirectional formatting characters of RFC 3987 4.1 (plus
# the isolates of Unicode 6.3), which make an IRI display differently from what it is
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def is_valid_iri(value: str) -> bool:
    """Whether ``value`` is an absolute IRI by the RFC 3987 grammar (any scheme)."""
    if _FORBIDDEN.search(value):
        return False
    match = IRI_RE.fullmatch(value)
    if match is None:
        return False
    ip = match.group("ip")
    if ip is not None and not ip.startswith("v"):
        try:
            ipaddress.IPv6Address(ip)
        except ValueError:
            return False
    return True


def looks_like_iri(value: str) -> bool:
    """Whether a string is meant as an IRI (``scheme:`` then no space), not plain text."""
    return bool(_LOOKS_LIKE_IRI.match(value))


def scheme_of(value: str) -> str | None:
    match = SCHEME_RE.match(value.strip())
    if match is None or value.strip()[match.end() : match.end() + 1] != ":":
        return None
    return match.group(0).lower()


def check_iri(value: str, field_name: str = "") -> str | None:
    """Why ``value`` may not be stored in the URL-valued field ``field_name`` (None: fine).

    ``None`` is also the answer for plain text that is not meant as an IRI (``looks_like_iri``
    tells the two apart); such text is stored as a string literal."""
    if _FORBIDDEN.search(value):
        return "Control and bidirectional formatting characters are not allowed in a URL."
    if not looks_like_iri(value):
        return None
    allowed = FIELD_SCHEMES.get(field_name, WEB_SCHEMES)
    scheme = scheme_of(value)
    if scheme not in allowed:
        return (
            f"URL scheme '{scheme}' is not allowed here; use one of {', '.join(sorted(allowed))}."
        )
    if value != value.strip():
        return "A URL may not start or end with whitespace."
    if not is_valid_iri(value):
        return (
            'Not a valid IRI (RFC 3987): spaces and the characters < > " { } | \\ ^ ` '
            "must be percent-encoded."
        )
    return None


def is_link(value: object) -> bool:
    """Whether the web UI may render ``value`` as a link: a valid http(s) IRI only."""
    return (
        isinstance(value, str)
        and scheme_of(value) in WEB_SCHEMES
        and value == value.strip()
        and is_valid_iri(value)
    )
