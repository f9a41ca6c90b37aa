"""The server's memory of policy decisions (``kg.sparql.decisions``): a decision is reused only
for the exact same text, base IRI, allowed-service set and query/update; refusals are never
remembered; a reused decision still runs in a worker, under the time limit, with the form
check."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from kg.catalog import Catalog
from kg.errors import Forbidden, ParseError, QueryTimeout
from kg.model.fields import ASSET_TYPES
from kg.settings import Settings
from kg.sparql.decisions import MAX_TEXT, DecisionCache, key_of
from kg.sparql.policy import check_query
from kg.sparql.service import SparqlService
from kg.sparql.workers import network_sandbox_available

BASE = "http://127.0.0.1:8000"
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?d a <http://www.w3.org/ns/dcat#Dataset> }"
EXPLOSIVE = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
OUTSIDE = "SELECT * WHERE { SERVICE <http://evil.example/sparql> { ?s ?p ?o } }"


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    settings = Settings(
        store=str(tmp_path / "store"), base_url=BASE, sparql_timeout=2, search_enabled=False
    )
    cat = Catalog(settings)
    cat.save_many(
        ASSET_TYPES["datasets"],
        [
            {
                "name": f"decision {i}",
                "platform": "example",
                "platform_resource_identifier": str(i),
                "keyword": ["k1", "k2", "k3"],
            }
            for i in range(30)
        ],
    )
    yield cat
    cat.close()


def count(body: bytes) -> int:
    return int(orjson.loads(body)["results"]["bindings"][0]["n"]["value"])


def test_the_key_is_the_whole_job() -> None:
    cache = DecisionCache()
    decision = check_query(COUNT, BASE + "/", ())
    cache.put(key_of(COUNT, BASE + "/", (), False), decision)
    assert cache.get(key_of(COUNT, BASE + "/", (), False)) == decision
    assert cache.get(key_of(COUNT + " ", BASE + "/", (), False)) is None
    assert cache.get(key_of(COUNT.lower(), BASE + "/", (), False)) is None
    assert cache.get(key_of(COUNT, BASE + "/", ("http://a.example/",), False)) is None
    assert cache.get(key_of(COUNT, "http://other.example/", (), False)) is None
    assert cache.get(key_of(COUNT, BASE + "/", (), True)) is None
    assert key_of("#" * (MAX_TEXT + 1), BASE, (), False) is None


def test_the_cache_is_bounded_least_recently_used_first_out() -> None:
    cache = DecisionCache(max_entries=2)
    keys = [key_of(f"ASK {{ ?s ?p {i} }}", BASE, (), False) for i in range(3)]
    for key in keys[:2]:
        assert key is not None
        cache.put(key, check_query(key[0], BASE, ()))
    assert cache.get(keys[0]) is not None  # now the most recent
    assert keys[2] is not None
    cache.put(keys[2], check_query(keys[2][0], BASE, ()))
    assert len(cache) == 2
    assert cache.get(keys[1]) is None
    assert cache.get(keys[0]) is not None


@pytest.mark.parametrize("isolation", ["process", "thread"])
def test_a_repeated_text_reuses_its_decision(catalog: Catalog, isolation: str) -> None:
    svc = SparqlService(
        catalog.store, catalog.settings.model_copy(update={"sparql_isolation": isolation})
    )
    if isolation == "process" and network_sandbox_available():
        # a sandboxed worker leaves this text's policy to the engine: nothing to decide
        answers = [svc.query(COUNT, accept="application/sparql-results+json") for _ in "ab"]
        assert [count(a.body) for a in answers] == [30, 30] and len(svc.decisions) == 0
        # a text naming SERVICE or FROM anywhere (here only in a literal) is checked first
        checked = COUNT.replace("WHERE {", 'WHERE { BIND("from" AS ?why)')
        assert count(svc.query(checked, accept="application/sparql-results+json").body) == 30
        assert len(svc.decisions) == 1
        return
    first = svc.query(COUNT, accept="application/sparql-results+json")
    assert len(svc.decisions) == 1 and svc.decisions.hits == 0
    second = svc.query(COUNT, accept="application/sparql-results+json")
    assert svc.decisions.hits == 1
    assert count(first.body) == count(second.body) == 30
    other = svc.query(COUNT.replace("?n", "?m"), accept="application/sparql-results+json")
    assert b'"m"' in other.body
    assert len(svc.decisions) == 2 and svc.decisions.hits == 1


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (OUTSIDE, Forbidden),
        ("SELECT * WHERE { SERVICE ?where { ?s ?p ?o } }", Forbidden),
        ("SELECT * WHERE { " * 3000 + "}" * 3000, ParseError),
        ("INSERT DATA { <http://a/s> <http://a/p> 1 }", ParseError),
    ],
)
def test_a_hostile_text_is_refused_every_time_it_is_sent(
    catalog: Catalog, text: str, error: type[Exception]
) -> None:
    svc = SparqlService(catalog.store, catalog.settings)
    for _ in range(2):
        with pytest.raises(error):
            svc.query(text)
    assert len(svc.decisions) == 0 and svc.decisions.hits == 0


def test_a_decision_made_under_allowed_services_is_not_used_without_them(
    catalog: Catalog,
) -> None:
    allowed = ("http://evil.example/",)
    svc = SparqlService(catalog.store, catalog.settings)
    assert svc.allowed == ()
    # a decision another configuration made (SERVICE allowed there) is in the same cache
    svc.decisions.put(
        key_of(OUTSIDE, svc.base_iri, allowed, False), check_query(OUTSIDE, svc.base_iri, allowed)
    )
    with pytest.raises(Forbidden):
        svc.query(OUTSIDE)
    assert svc.decisions.hits == 0


def test_a_reused_decision_still_has_its_form_checked(catalog: Catalog) -> None:
    svc = SparqlService(catalog.store, catalog.settings)
    forged = check_query("ASK { ?s ?p ?o }", svc.base_iri, ())
    # the text runs as the decision's text, but Oxigraph answers solutions, not a boolean
    svc.decisions.put(key_of(COUNT, svc.base_iri, (), False), replace(forged, text=COUNT))
    with pytest.raises(Forbidden, match="ambiguous"):
        svc.query(COUNT)


def test_a_reused_decision_still_has_the_time_limit(catalog: Catalog) -> None:
    svc = SparqlService(catalog.store, catalog.settings)
    svc.decisions.put(
        key_of(EXPLOSIVE, svc.base_iri, (), False), check_query(EXPLOSIVE, svc.base_iri, ())
    )
    with pytest.raises(QueryTimeout):
        svc.query(EXPLOSIVE)
    assert svc.decisions.hits == 1
    assert count(svc.query(COUNT).body) == 30  # the worker was replaced


def test_long_texts_are_not_remembered(catalog: Catalog) -> None:
    svc = SparqlService(catalog.store, catalog.settings)
    text = "# " + "x" * MAX_TEXT + "\n" + COUNT
    svc.query(text)
    svc.query(text)
    assert len(svc.decisions) == 0 and svc.decisions.hits == 0


@pytest.mark.parametrize("query", [COUNT, "", "SELECT * WHERE { ?s ?p ?o } # from"])
def test_a_dataset_iri_that_is_no_iri_is_the_callers_error(catalog: Catalog, query: str) -> None:
    svc = SparqlService(catalog.store, catalog.settings)
    with pytest.raises(ParseError):
        svc.query(query, default_graphs=[""], named_graphs=["not an iri"])
