"""Local conversions between RDF serialisations (Turtle, N-Triples, RDF/XML, JSON-LD, N-Quads,
TriG) and rdflib graphs. Needs the ``rdf`` extra: ``pip install 'aiod-kg-client[rdf]'``.

Conversions between AIoD JSON and RDF need the server's field table: ask the server
(``Client.get_as(type, id, "turtle")``, or ``create(type, text, format="turtle")``).
"""

from __future__ import annotations

import json
from typing import Any

# our format names -> rdflib's
FORMATS = {
    "turtle": "turtle",
    "ntriples": "nt",
    "rdfxml": "xml",
    "jsonld": "json-ld",
    "nquads": "nquads",
    "trig": "trig",
}
ALIASES = {"ttl": "turtle", "nt": "ntriples", "xml": "rdfxml", "rdf": "rdfxml", "json-ld": "jsonld"}
QUADS = ("nquads", "trig")


def require_rdflib() -> Any:
    """The rdflib module, or an ImportError saying which extra to install."""
    try:
        import rdflib
    except ImportError:
        raise ImportError(
            "This conversion needs rdflib: pip install 'aiod-kg-client[rdf]'"
        ) from None
    return rdflib


def format_name(name: str) -> str:
    key = ALIASES.get(name.lower(), name.lower())
    if key not in FORMATS:
        raise ValueError(f"Unknown RDF format {name!r}; one of: {', '.join(FORMATS)}.")
    return key


def parse(data: str | bytes | dict[str, Any] | list[Any], format: str) -> Any:
    """An rdflib ``Graph`` (``Dataset`` for N-Quads and TriG) read from ``data``."""
    rdflib = require_rdflib()
    fmt = format_name(format)
    if isinstance(data, (dict, list)):
        data = json.dumps(data)
    graph = rdflib.Dataset() if fmt in QUADS else rdflib.Graph()
    graph.parse(data=data, format=FORMATS[fmt])
    return graph


def serialize(graph: Any, format: str) -> str:
    """``graph`` (an rdflib Graph or Dataset) as text in ``format``."""
    require_rdflib()
    fmt = format_name(format)
    text: str = graph.serialize(format=FORMATS[fmt])
    return text


def convert(data: str | bytes | dict[str, Any] | list[Any], source: str, target: str) -> str:
    """Re-serialise RDF: ``convert(turtle_text, "turtle", "jsonld")``."""
    return serialize(parse(data, source), target)
