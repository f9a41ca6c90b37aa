"""The terms that can be suggested: for each suggestible field, the taxonomy terms
(``kg.model.taxonomies``) and the text the embedding model reads for each.

* ``research_area``: the research areas (hierarchical: every term);
* ``application_area``: the application areas (flat, CamelCase names split into words);
* ``keyword``: the scientific domains (every term).

The model reads each term in a sentence (``TEMPLATE``): on the TFDS cards of
tests/data/search-eval, with "A dataset or model about computer vision." the best research area
is the one the cards' data-type tags name for 77 % of the cards that get one; with the bare term
for under 60 %, with the term and its parents under 50 % (bench/linking.py ``--enrichment``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from kg.model.taxonomies import taxonomy

FIELDS: dict[str, tuple[str, ...]] = {
    "research_area": ("research_areas",),
    "application_area": ("application_areas",),
    "keyword": ("scientific_domains",),
}
TEMPLATE = "A dataset or model about {}."
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
CATCH_ALL = re.compile(r"^(other|generic)\b", re.IGNORECASE)  # never suggested: no information


@dataclass(frozen=True)
class Term:
    field: str  # the AIoD field the term would be written to
    term: str  # the value written
    text: str  # what the embedding model reads


def words(term: str) -> str:
    """``MobilityTransportAutomotive`` -> ``Mobility Transport Automotive``."""
    return _CAMEL.sub(" ", term)


def _walk(field: str, nodes: list[dict[str, Any]], parents: tuple[str, ...]) -> list[Term]:
    out = []
    for node in nodes:
        name = str(node["term"])
        if not CATCH_ALL.match(name):
            out.append(Term(field, name, TEMPLATE.format(words(name).lower())))
        out += _walk(field, node.get("subterms") or [], (*parents, words(name)))
    return out


@cache
def terms() -> tuple[Term, ...]:
    """Every suggestible term, in a fixed order."""
    out: list[Term] = []
    for field, names in FIELDS.items():
        for name in names:
            out += _walk(field, taxonomy(name), ())
    return tuple(out)
