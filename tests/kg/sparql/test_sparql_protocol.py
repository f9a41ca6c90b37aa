"""``/sparql`` per the W3C SPARQL 1.1 Protocol: encodings, dataset, formats, errors, updates,
the service description and the editor page, and the public/private partition."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from kg.settings import Settings
from tests.support.data import ADMIN_KEY, AUTH

BASE = "http://127.0.0.1:8000"
DATASETS = ASSET_TYPES["datasets"]
SELECT_NAMES = "SELECT ?name WHERE { ?d a dcat:Dataset ; schema:name ?name } ORDER BY ?name"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def dataset(i: int, status: str = "published", **extra: Any) -> dict[str, Any]:
    return {
        "name": f"dataset {i}",
        "platform": "example",
        "platform_resource_identifier": str(i),
        "keyword": ["protocol"],
        "aiod_entry": {"status": status},
        **extra,
    }


def _setup(folder: Path) -> tuple[Settings, Catalog]:
    settings = Settings(
        store=str(folder / "store"),
        admin_key=ADMIN_KEY,
        base_url=BASE,
        sparql_timeout=5,
        search_enabled=False,
    )
    catalog = Catalog(settings)
    catalog.save_many(DATASETS, [dataset(i) for i in range(3)])
    catalog.save_many(DATASETS, [dataset(9, "draft", name="SECRET-MARKER draft")])
    return settings, catalog


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Catalog, TestClient]]:
    """One catalog and client for the tests that only read."""
    settings, catalog = _setup(tmp_path_factory.mktemp("sparql"))
    with TestClient(create_app(settings, catalog), raise_server_exceptions=False) as client:
        yield catalog, client
    catalog.close()


@pytest.fixture
def api(shared: tuple[Catalog, TestClient]) -> TestClient:
    return shared[1]


@pytest.fixture
def sparql_catalog(shared: tuple[Catalog, TestClient]) -> Catalog:
    return shared[0]


@pytest.fixture
def own(tmp_path: Path) -> Iterator[tuple[Catalog, TestClient]]:
    """A catalog and client of its own, for a test that writes."""
    settings, catalog = _setup(tmp_path)
    with TestClient(create_app(settings, catalog), raise_server_exceptions=False) as client:
        yield catalog, client
    catalog.close()


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [row["name"]["value"] for row in response.json()["results"]["bindings"]]


EXPECTED = ["dataset 0", "dataset 1", "dataset 2"]


# --------------------------------------------------------------------------- the three encodings


def test_get_with_query_parameter(api: TestClient) -> None:
    response = api.get("/sparql", params={"query": SELECT_NAMES})
    assert response.headers["content-type"].startswith("application/sparql-results+json")
    assert names(response) == EXPECTED


def test_post_form_encoded(api: TestClient) -> None:
    assert names(api.post("/sparql", data={"query": SELECT_NAMES})) == EXPECTED


def test_post_sparql_query_body(api: TestClient) -> None:
    response = api.post(
        "/sparql",
        content=SELECT_NAMES.encode(),
        headers={"Content-Type": "application/sparql-query; charset=utf-8"},
    )
    assert names(response) == EXPECTED


def test_unsupported_content_type_is_415(api: TestClient) -> None:
    response = api.post("/sparql", content=b"{}", headers={"Content-Type": "application/json"})
    assert response.status_code == 415


def test_form_without_query_is_400(api: TestClient) -> None:
    assert api.post("/sparql", data={"nothing": "here"}).status_code == 400


def test_empty_update_is_a_no_op_not_a_server_error(api: TestClient) -> None:
    """Found by schemathesis: an empty update (no operation) made the policy fail with a 500."""
    form = {"query": "", "update": "", "named-graph-uri": "AAA"}
    response = api.post("/sparql", data=form, headers=AUTH)
    assert response.status_code < 500, response.text
    assert api.post("/sparql", data={"update": "PREFIX a: <http://a/>"}, headers=AUTH).is_success


# --------------------------------------------------------------------------- dataset


def _iri(catalog: Catalog, name: str) -> str:
    rows = catalog.list(DATASETS, 0, 100)
    return catalog.iri(DATASETS, next(r["identifier"] for r in rows if r["name"] == name))


def test_default_graph_is_the_union_of_public_graphs(api: TestClient) -> None:
    response = api.get(
        "/sparql", params={"query": "SELECT (COUNT(DISTINCT ?d) AS ?n) WHERE { ?d a dcat:Dataset }"}
    )
    assert response.json()["results"]["bindings"][0]["n"]["value"] == "3"


def test_default_graph_uri_and_named_graph_uri(api: TestClient, sparql_catalog: Catalog) -> None:
    one = _iri(sparql_catalog, "dataset 1")
    two = _iri(sparql_catalog, "dataset 2")
    response = api.get("/sparql", params={"query": SELECT_NAMES, "default-graph-uri": one})
    assert names(response) == ["dataset 1"]
    query = "SELECT ?name WHERE { GRAPH ?g { ?d a dcat:Dataset ; schema:name ?name } }"
    response = api.post("/sparql", data={"query": query, "named-graph-uri": [one, two]})
    assert sorted(names(response)) == ["dataset 1", "dataset 2"]
    response = api.post(
        "/sparql",
        content=query.encode(),
        params={"named-graph-uri": two},
        headers={"Content-Type": "application/sparql-query"},
    )
    assert names(response) == ["dataset 2"]


def test_from_clause_in_the_query_is_honoured(api: TestClient, sparql_catalog: Catalog) -> None:
    one = _iri(sparql_catalog, "dataset 1")
    query = f"SELECT ?name FROM <{one}> WHERE {{ ?d schema:name ?name }}"
    assert names(api.get("/sparql", params={"query": query})) == ["dataset 1"]


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    "fmt, media",
    [
        ("json", "application/sparql-results+json"),
        ("xml", "application/sparql-results+xml"),
        ("csv", "text/csv"),
        ("tsv", "text/tab-separated-values"),
    ],
)
def test_select_in_every_result_format(api: TestClient, fmt: str, media: str) -> None:
    by_param = api.get("/sparql", params={"query": SELECT_NAMES, "format": fmt})
    by_accept = api.get("/sparql", params={"query": SELECT_NAMES}, headers={"Accept": media})
    for response in (by_param, by_accept):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(media)
        assert response.headers["vary"] == "Accept"
        if fmt != "csv":  # CSV is lossy: read below with the csv module
            parsed = ox.parse_query_results(
                response.content, format=ox.QueryResultsFormat.from_media_type(media)
            )
            assert isinstance(parsed, ox.QuerySolutions)
            assert [str(s["name"].value) for s in parsed] == EXPECTED
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(by_param.text)))
        assert rows == [["name"], *[[n] for n in EXPECTED]]
    if fmt == "xml":
        ET.fromstring(by_param.content)


def test_ask(api: TestClient) -> None:
    response = api.get("/sparql", params={"query": 'ASK { ?d dcat:keyword "protocol" }'})
    assert response.json() == {"head": {}, "boolean": True}
    xml = api.get("/sparql", params={"query": 'ASK { ?d dcat:keyword "nope" }', "format": "xml"})
    assert b"<boolean>false</boolean>" in xml.content


@pytest.mark.parametrize(
    "fmt, media, rdf_format",
    [
        ("turtle", "text/turtle", ox.RdfFormat.TURTLE),
        ("ntriples", "application/n-triples", ox.RdfFormat.N_TRIPLES),
        ("jsonld", "application/ld+json", ox.RdfFormat.JSON_LD),
        ("rdfxml", "application/rdf+xml", ox.RdfFormat.RDF_XML),
    ],
)
def test_construct_and_describe_in_every_rdf_format(
    api: TestClient, sparql_catalog: Catalog, fmt: str, media: str, rdf_format: ox.RdfFormat
) -> None:
    one = _iri(sparql_catalog, "dataset 1")
    construct = "CONSTRUCT { ?d schema:name ?name } WHERE { ?d a dcat:Dataset ; schema:name ?name }"
    describe = f"DESCRIBE <{one}>"
    for query, expected in ((construct, 3), (describe, None)):
        for response in (
            api.get("/sparql", params={"query": query, "format": fmt}),
            api.get("/sparql", params={"query": query}, headers={"Accept": media}),
        ):
            assert response.status_code == 200, response.text
            assert response.headers["content-type"].startswith(media)
            triples = list(ox.parse(response.content, format=rdf_format))
            if expected is not None:
                assert len(triples) == expected
            else:
                assert {t.subject.value for t in triples} >= {one}
                assert any(t.object == ox.Literal("dataset 1") for t in triples)


def test_format_parameter_beats_accept(api: TestClient) -> None:
    response = api.get(
        "/sparql",
        params={"query": SELECT_NAMES, "format": "csv"},
        headers={"Accept": "application/sparql-results+xml"},
    )
    assert response.headers["content-type"].startswith("text/csv")


def test_accept_with_quality_values_and_wildcards(api: TestClient) -> None:
    accept = "application/sparql-results+xml;q=0.5, text/csv;q=0.9"
    response = api.get("/sparql", params={"query": SELECT_NAMES}, headers={"Accept": accept})
    assert response.headers["content-type"].startswith("text/csv")
    response = api.get(
        "/sparql",
        params={"query": "CONSTRUCT WHERE { ?s ?p ?o } LIMIT 1"},
        headers={"Accept": "*/*"},
    )
    assert response.headers["content-type"].startswith("text/turtle")


def test_unsupported_accept_is_406(api: TestClient) -> None:
    response = api.get("/sparql", params={"query": SELECT_NAMES}, headers={"Accept": "image/png"})
    assert response.status_code == 406
    assert "application/sparql-results+json" in response.json()["detail"]
    construct = api.get(
        "/sparql",
        params={"query": "CONSTRUCT WHERE { ?s ?p ?o }"},
        headers={"Accept": "application/sparql-results+json"},
    )
    assert construct.status_code == 406
    assert api.get("/sparql", params={"query": SELECT_NAMES, "format": "png"}).status_code == 406


# --------------------------------------------------------------------------- errors


def test_syntax_error_is_400_with_line_and_column(api: TestClient) -> None:
    query = "SELECT ?name WHERE {\n  ?d schema:name ?name .\n  FILTER(?name = ) }"
    for response in (
        api.get("/sparql", params={"query": query}),
        api.post("/sparql", data={"query": query}),
    ):
        assert response.status_code == 400
        detail = response.json()["detail"]
        assert (detail["line"], detail["column"]) == (3, 21)
        assert "Invalid SPARQL query" in detail["message"]
        assert response.json()["reference"]


def test_undeclared_prefix_is_a_syntax_error(api: TestClient) -> None:
    response = api.get("/sparql", params={"query": "SELECT * WHERE { ?s nope:p ?o }"})
    assert response.status_code == 400
    assert response.json()["detail"]["line"] == 1


def test_an_update_sent_as_a_query_is_refused(api: TestClient) -> None:
    response = api.get("/sparql", params={"query": "INSERT DATA { <urn:a> <urn:b> <urn:c> }"})
    assert response.status_code == 400
    assert api.get("/sparql", params={"update": "CLEAR ALL"}).status_code == 400


# --------------------------------------------------------------------------- updates


UPDATE = 'INSERT DATA { GRAPH <urn:x:g> { <urn:x:s> <urn:x:p> "inserted" } }'
CHECK = 'ASK { GRAPH <urn:x:g> { <urn:x:s> <urn:x:p> "inserted" } }'


def test_update_without_rights_is_403_and_changes_nothing(own: tuple[Catalog, TestClient]) -> None:
    api = own[1]
    for response in (
        api.post(
            "/sparql",
            content=UPDATE.encode(),
            headers={"Content-Type": "application/sparql-update"},
        ),
        api.post("/sparql", data={"update": UPDATE}),
    ):
        assert response.status_code == 403
        assert "admin" in response.json()["detail"]
    bad_key = api.post(
        "/sparql",
        content=UPDATE.encode(),
        headers={"Content-Type": "application/sparql-update", "Authorization": "Bearer wrong"},
    )
    assert bad_key.status_code == 401
    assert api.get("/sparql", params={"query": CHECK}).json()["boolean"] is False


def test_update_with_admin_rights(own: tuple[Catalog, TestClient]) -> None:
    api = own[1]
    response = api.post(
        "/sparql",
        content=UPDATE.encode(),
        headers={"Content-Type": "application/sparql-update", **AUTH},
    )
    assert response.status_code == 204, response.text
    assert api.get("/sparql", params={"query": CHECK}).json()["boolean"] is True
    bad = api.post("/sparql", data={"update": "INSERT DATA { nonsense"}, headers=AUTH)
    assert bad.status_code == 400 and bad.json()["detail"]["line"] == 1


# --------------------------------------------------------------------------- description, editor


def _value(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> str:
    """The value of a term that is not a quoted triple."""
    assert not isinstance(term, ox.Triple)
    return term.value


def test_service_description_for_machines(api: TestClient) -> None:
    response = api.get("/sparql", headers={"Host": "evil.example"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/turtle")
    assert b"evil.example" not in response.content  # the configured base, not the Host header
    sd = "http://www.w3.org/ns/sparql-service-description#"
    store = ox.Store()
    store.load(response.content, format=ox.RdfFormat.TURTLE)
    endpoint = ox.NamedNode(f"{BASE}/sparql")
    assert list(
        store.quads_for_pattern(
            endpoint,
            ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
            ox.NamedNode(sd + "Service"),
        )
    )
    formats = {
        _value(q.object)
        for q in store.quads_for_pattern(endpoint, ox.NamedNode(sd + "resultFormat"), None)
    }
    assert "http://www.w3.org/ns/formats/SPARQL_Results_JSON" in formats
    assert len(formats) == 8
    features = {
        _value(q.object)
        for q in store.quads_for_pattern(endpoint, ox.NamedNode(sd + "feature"), None)
    }
    assert sd + "UnionDefaultGraph" in features
    jsonld = api.get("/sparql", headers={"Accept": "application/ld+json"})
    assert jsonld.headers["content-type"].startswith("application/ld+json")
    json.loads(jsonld.content)


def test_editor_for_browsers_works_offline(api: TestClient) -> None:
    accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = api.get("/sparql", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<textarea" in page and "PREFIXES" in page and "Datasets and their names" in page
    assert "<script src" not in page and "<link" not in page and "@import" not in page
    assert "https://schema.org/" in page  # the prefixes are preloaded
    policy = response.headers["content-security-policy"]
    script = page.split("<script>", 1)[1].split("</script>", 1)[0]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy and "connect-src 'self'" in policy
    with_query = api.get("/sparql", params={"query": SELECT_NAMES}, headers={"Accept": accept})
    assert with_query.headers["content-type"].startswith("text/html")


def test_editor_example_queries_all_run(api: TestClient) -> None:
    from api.routes.sparql_editor import EXAMPLES

    for title, query in EXAMPLES:
        response = api.post(
            "/sparql",
            data={"query": query},
            headers={"Accept": "application/sparql-results+json, text/turtle;q=0.9"},
        )
        assert response.status_code == 200, (title, response.text)


# --------------------------------------------------------------------------- the partition


LEAKS = [
    "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }",
    "SELECT * WHERE { ?s ?p ?o }",
    "SELECT * FROM NAMED <{draft}> WHERE { GRAPH ?g { ?s ?p ?o } }",
    "SELECT * FROM <{draft}> WHERE { ?s ?p ?o }",
    "DESCRIBE <{draft}>",
    "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH <{draft}> { ?s ?p ?o } }",
    "ASK { GRAPH <{draft}> { ?s ?p ?o } }",
    "SELECT * WHERE { ?s (<urn:x>|!<urn:x>)* ?o }",
    "SELECT ?g WHERE { GRAPH ?g { } }",
]


@pytest.mark.parametrize("query", LEAKS)
def test_drafts_are_unreachable_whatever_the_query(
    api: TestClient, sparql_catalog: Catalog, query: str
) -> None:
    """Whatever the query and dataset, a draft's IRI answers exactly like an IRI that was never
    used: no content and no sign that it exists."""
    draft = _iri_of_draft(sparql_catalog)
    never = draft[:-6] + "ZZZZZZ"
    graph_form = query.startswith(("DESCRIBE", "CONSTRUCT"))
    fmt = "ntriples" if graph_form else "json"
    for extra in ({}, {"default-graph-uri": "{draft}"}, {"named-graph-uri": "{draft}"}):
        answers = []
        for iri in (draft, never):
            params = {k: v.replace("{draft}", iri) for k, v in {"query": query, **extra}.items()}
            response = api.get("/sparql", params={**params, "format": fmt})
            assert response.status_code == 200, response.text
            assert b"SECRET-MARKER" not in response.content
            answers.append(response.content.replace(iri.encode(), b"<IRI>"))
        if graph_form or "boolean" in answers[0].decode():
            assert answers[0] == answers[1]
        else:  # the same rows, in any order
            rows = [
                sorted(json.dumps(b, sort_keys=True) for b in json.loads(a)["results"]["bindings"])
                for a in answers
            ]
            assert rows[0] == rows[1]


def _iri_of_draft(catalog: Catalog) -> str:
    entry = catalog.index.find_platform("datasets", "example", "9")
    assert entry is not None
    return catalog.iri(DATASETS, entry.identifier)


def test_publishing_a_draft_makes_it_queryable_and_withdrawing_hides_it(
    own: tuple[Catalog, TestClient],
) -> None:
    sparql_catalog, api = own
    ask = {"query": 'ASK { ?d schema:name "SECRET-MARKER draft" }'}
    draft = _iri_of_draft(sparql_catalog)
    identifier = draft.rsplit("/", 1)[1]
    assert api.get("/sparql", params=ask).json()["boolean"] is False
    sparql_catalog.replace(DATASETS, identifier, dataset(9, name="SECRET-MARKER draft"))
    assert api.get("/sparql", params=ask).json()["boolean"] is True
    sparql_catalog.replace(DATASETS, identifier, dataset(9, "draft", name="SECRET-MARKER draft"))
    assert api.get("/sparql", params=ask).json()["boolean"] is False
    assert sparql_catalog.get(DATASETS, identifier)["name"] == "SECRET-MARKER draft"


def test_an_interrupted_move_between_partitions_is_repaired(tmp_path: Path) -> None:
    """Crash after writing the private copy of a published asset being withdrawn: the next
    start keeps the public (old, whole) graph and drops the half-moved private copy."""
    settings = Settings(store=str(tmp_path / "moved"), base_url=BASE)
    catalog = Catalog(settings)
    identifier = catalog.create(DATASETS, dataset(1))
    iri = catalog.iri(DATASETS, identifier)
    old = catalog.store.public.graph(iri)
    catalog.index.mark_pending([(identifier, "datasets")])
    catalog.store.private.replace_graphs({iri: old[:3]})  # the new copy, then "crash"
    catalog.close()
    reopened = Catalog(settings)
    try:
        assert reopened.store.public.has_graph(iri)
        assert not reopened.store.private.has_graph(iri)
        assert reopened.get(DATASETS, identifier)["name"] == "dataset 1"
        assert reopened.index.pending() == []
    finally:
        reopened.close()
