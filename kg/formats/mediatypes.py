"""Parsing of HTTP ``Accept`` headers (RFC 9110 media ranges with ``q`` and parameters).

Used by every piece that negotiates a representation: the REST API, the linked-data
pages, the SPARQL endpoint.
"""

from __future__ import annotations

from typing import NamedTuple


class MediaRange(NamedTuple):
    media: str  # lower-cased type/subtype, e.g. "text/turtle", "*/*"
    q: float
    params: dict[str, str]  # other parameters, e.g. {"profile": "..."}


def parse_accept(header: str) -> list[MediaRange]:
    """The media ranges of an Accept header, best first (ties keep the client's order)."""
    items: list[MediaRange] = []
    for part in header.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        q, params = 1.0, {}
        for param in fields[1:]:
            key, _, value = param.partition("=")
            key, value = key.strip().lower(), value.strip().strip('"')
            if key == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
            elif key:
                params[key] = value
        items.append(MediaRange(media, q, params))
    return sorted(items, key=lambda item: -item.q)
