"""Where the tests' data lives (tests/data, api/demo/recorded), the AIoD example resources, and
the admin key every test catalog and server is configured with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from api.demo.replay import RECORDED

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"  # test-only data (see the SOURCES.md files there)
FIXTURES = RECORDED  # recorded OpenML / Hugging Face / Zenodo payloads (package data of api.demo)
AIOD_FIXTURES = DATA / "fixtures" / "aiod"  # AIoD example resources, enums, ...
EXAMPLES = AIOD_FIXTURES / "example_resources"
STANDARDS = DATA / "standards"  # DCAT-AP shapes, Croissant examples, ML vocabularies
SEARCH_EVAL = DATA / "search-eval"  # search relevance corpus (also used by bench/)
OIDC_PROJECT = REPO / "tests" / "oidc"  # the Node project of the OIDC provider test
ADMIN_KEY = "test-admin-key"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


# AIoD ships example resources for every asset type except these
WITHOUT_EXAMPLES = frozenset({"platforms"})


def example_records(collection: str) -> list[dict[str, Any]]:
    """The AIoD example resources of one collection (``[]`` only for a type AIoD has no
    examples of); missing data is an error, so tests never pass on nothing."""
    if collection in WITHOUT_EXAMPLES:
        return []
    path = EXAMPLES / f"{collection}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no AIoD example resources for {collection!r}: {path}")
    records: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    if not records:
        raise ValueError(f"{path} holds no records")
    return records
