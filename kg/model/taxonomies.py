"""AIoD taxonomies (the value lists of controlled fields), in the v2 shape
``[{"term", "definition", "subterms": [...]}]`` that the AIoD SDK reads.

Flat lists (``kg/enums/<name>.json``, the AIoD example enums) become terms without
definitions; hierarchical ones are served as they are.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from kg.model.fields import ENUM_DIR

TAXONOMY_FILES: dict[str, str] = {
    "licenses": "licenses",
    "languages": "languages",
    "news_categories": "news_categories",
    "industrial_sectors": "industrial_sectors",
    "application_areas": "application_areas",
    "organisation_types": "organisation_types",
    "educational_resource_types": "educational_resource_types",
    "event_modes": "event_modes",
    "event_status": "event_status",
    "status": "status",
    # hierarchical: research areas and scientific domains from the AIoD ontology's SKOS schemes
    # (tests/data/fixtures/aiod/ontology/taxonomies/schemas.ttl); organisation size brackets
    # after the EU SME definition; publication types: aiod-kg's own list
    "research_areas": "research_areas",
    "scientific_domains": "scientific_domains",
    "publication_types": "publication_types",
    "number_of_employees": "number_of_employees",
    "turnovers": "turnovers",
}


def _term(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {
            "term": str(value.get("term", "")),
            "definition": str(value.get("definition") or ""),
            "subterms": [_term(v) for v in value.get("subterms") or []],
        }
    return {"term": str(value), "definition": "", "subterms": []}


@cache
def taxonomy(name: str) -> list[dict[str, Any]]:
    """The terms of one taxonomy; KeyError if there is no such taxonomy."""
    values = json.loads((ENUM_DIR / f"{TAXONOMY_FILES[name]}.json").read_text(encoding="utf-8"))
    return [_term(v) for v in values]
