"""kg.enrichment on real records (the TFDS cards of tests/data/search-eval) with the real
MiniLM model and a real catalog: what is suggested, that the publisher's values are never
suggested again, and that the derived graph follows the asset's visibility (a draft's
suggestions in the private partition only) and its changes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kg.catalog import Catalog
from kg.derived import open_linker, relink
from kg.enrichment.book import SuggestionBook
from kg.enrichment.suggester import Suggester
from kg.enrichment.vocabulary import FIELDS, terms, words
from kg.model.fields import ASSET_TYPES
from kg.model.namespaces import PROV
from kg.settings import Settings
from tests.support.data import SEARCH_EVAL

DATASETS = ASSET_TYPES["datasets"]


def card(name: str) -> dict[str, Any]:
    for line in (SEARCH_EVAL / "corpus.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["id"] == name:
            return {"name": record["name"], "description": {"plain": record["description"]}}
    raise KeyError(name)


@pytest.fixture(scope="module")
def suggester() -> Suggester:
    return Suggester()


def test_vocabulary_covers_the_taxonomies() -> None:
    found = terms()
    assert {t.field for t in found} == set(FIELDS)
    names = {(t.field, t.term) for t in found}
    assert ("research_area", "Computer Vision") in names  # a nested term
    assert ("application_area", "AgriFood") in names
    assert not any(t.term.lower().startswith(("other", "generic")) for t in found)
    assert words("MobilityTransportAutomotive") == "Mobility Transport Automotive"


def test_suggestions_on_real_cards(suggester: Suggester) -> None:
    speech = suggester.suggest(DATASETS, card("speech_commands"))
    assert ("research_area", "Speech Processing") in {(s.field, s.term) for s in speech}
    vision = suggester.suggest(DATASETS, card("cityscapes"))
    assert next(s.term for s in vision if s.field == "research_area") == "Computer Vision"
    assert all(s.score >= suggester.thresholds[s.field] for s in [*speech, *vision])


def test_the_publishers_values_are_never_suggested(suggester: Suggester) -> None:
    data = {**card("speech_commands"), "research_area": ["speech processing"]}
    found = suggester.suggest(DATASETS, data)
    assert "Speech Processing" not in {s.term for s in found if s.field == "research_area"}
    assert suggester.suggest(DATASETS, {"name": ""}) == []  # nothing to read: nothing said


def _book(linker: Any) -> SuggestionBook:
    return next(f for f in linker.followers if isinstance(f, SuggestionBook))


def test_graph_follows_visibility_and_changes(settings: Settings, catalog: Catalog) -> None:
    public = catalog.create(
        DATASETS, {**card("cityscapes"), "platform": "zenodo", "platform_resource_identifier": "1"}
    )
    draft = catalog.create(
        DATASETS,
        {
            **card("speech_commands"),
            "platform": "zenodo",
            "platform_resource_identifier": "2",
            "aiod_entry": {"status": "draft"},
        },
    )
    linker = open_linker(settings, catalog)
    try:
        assert linker.flush()
        book = _book(linker)
        graph, hidden = book.graph_iri(public), book.graph_iri(draft)
        assert catalog.store.public.has_graph(graph)
        triples = catalog.store.public.graph(graph)
        assert (graph, PROV + "wasGeneratedBy") in {(s, p) for s, p, _ in triples}
        assert not catalog.store.public.has_graph(hidden)  # a draft's: private only
        assert catalog.store.private.has_graph(hidden)
        assert any(s["term"] == "Speech Processing" for s in book.suggestions(draft))

        book.decide(public, "research_area", "Computer Vision", "rejected", "me", "2026-01-01")
        assert "Computer Vision" not in {s["term"] for s in book.suggestions(public)}

        data = catalog.get(DATASETS, draft)
        data["aiod_entry"] = {**data.get("aiod_entry", {}), "status": "published"}
        catalog.replace(DATASETS, draft, data)
        assert linker.flush()
        assert catalog.store.public.has_graph(hidden)  # published: its suggestions too
        assert not catalog.store.private.has_graph(hidden)

        catalog.delete(DATASETS, draft)
        assert linker.flush()
        assert not catalog.store.has_graph(hidden)
    finally:
        linker.close()

    assert relink(settings, catalog) == 1
    rebuilt = open_linker(settings, catalog, follow=False)
    try:
        kept = _book(rebuilt).suggestions(public)
        assert "Computer Vision" not in {s["term"] for s in kept}  # the decision stays
    finally:
        rebuilt.close()
