"""Requests the W3C SPARQL 1.1 Protocol calls malformed (its test suite's ``bad_*`` cases):
each is a 400/403 in the one error envelope, and none changes the store or picks one reading of
an ambiguous request."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from kg.catalog import Catalog
from kg.settings import Settings
from tests.support.data import ADMIN_KEY, AUTH

ASK_ANY = "ASK { ?s ?p ?o }"
INSERT = 'INSERT DATA { GRAPH <urn:x:g> { <urn:x:s> <urn:x:p> "inserted" } }'
INSERTED = 'ASK { GRAPH <urn:x:g> { <urn:x:s> <urn:x:p> "inserted" } }'
UPDATE_MEDIA = {"Content-Type": "application/sparql-update"}
QUERY_MEDIA = {"Content-Type": "application/sparql-query"}
FORM_MEDIA = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One server for every test: none of them changes ``<urn:x:g>`` (the one update that
    succeeds writes ``<urn:x:done>``), so each checks that nothing was inserted there."""
    store = tmp_path_factory.mktemp("protocol") / "store"
    settings = Settings(
        store=str(store), admin_key=ADMIN_KEY, sparql_timeout=5, search_enabled=False
    )
    catalog = Catalog(settings)
    with TestClient(create_app(settings, catalog), raise_server_exceptions=False) as client:
        yield client
    catalog.close()


def inserted(api: TestClient) -> bool:
    response = api.get("/sparql", params={"query": INSERTED})
    assert response.status_code == 200, response.text
    return bool(response.json()["boolean"])


def refused(response: httpx.Response, status: int, words: str) -> None:
    """``response`` is ``status`` in the error envelope, its detail naming ``words``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "reference"}
    assert words in str(body["detail"])


def test_a_query_given_twice_is_refused_not_guessed(api: TestClient) -> None:
    twice = [("query", ASK_ANY), ("query", "ASK { <urn:x:a> ?p ?o }")]
    refused(api.get("/sparql", params=twice), 400, "'query' is given 2 times")
    refused(api.post("/sparql", data={"query": [ASK_ANY, ASK_ANY]}), 400, "given 2 times")
    assert api.get("/sparql", params={"query": ASK_ANY}).status_code == 200


def test_an_update_given_twice_is_refused_and_nothing_changes(api: TestClient) -> None:
    response = api.post("/sparql", data={"update": [INSERT, INSERT]}, headers=AUTH)
    refused(response, 400, "'update' is given 2 times")
    assert not inserted(api)


def test_a_query_and_an_update_in_one_form_are_refused(api: TestClient) -> None:
    response = api.post("/sparql", data={"query": ASK_ANY, "update": INSERT}, headers=AUTH)
    refused(response, 400, "not both")
    assert not inserted(api)


def test_a_post_with_the_operation_in_the_url_too_is_refused(api: TestClient) -> None:
    url_query = api.post(
        "/sparql", params={"query": ASK_ANY}, content=ASK_ANY.encode(), headers=QUERY_MEDIA
    )
    refused(url_query, 400, "in the body")
    url_update = api.post(
        "/sparql", params={"update": INSERT}, content=INSERT.encode(), headers=UPDATE_MEDIA | AUTH
    )
    refused(url_update, 400, "in the body")
    assert not inserted(api)


def test_percent_escapes_that_are_not_utf8_are_refused(api: TestClient) -> None:
    # "ASK { <urn:x:\xe9> ?p ?o }" with a Latin-1 byte, percent-encoded
    escaped = "query=ASK%20%7B%20%3Curn%3Ax%3A%E9%3E%20%3Fp%20%3Fo%20%7D"
    refused(api.get(f"/sparql?{escaped}"), 400, "not UTF-8")
    refused(api.post("/sparql", content=escaped.encode(), headers=FORM_MEDIA), 400, "not UTF-8")
    direct = "ASK { <urn:x:é> ?p ?o }".encode("latin-1")
    refused(api.post("/sparql", content=direct, headers=QUERY_MEDIA), 400, "not UTF-8")


def test_an_update_is_authorised_before_its_body_is_read(api: TestClient) -> None:
    """Without the admin key the answer is 403 whatever the body holds (here: not even UTF-8,
    which an admin's request gets a 400 for)."""
    garbage = b"\xff\xfe INSERT DATA"
    refused(api.post("/sparql", content=garbage, headers=UPDATE_MEDIA), 403, "admin")
    refused(api.post("/sparql", content=garbage, headers=UPDATE_MEDIA | AUTH), 400, "not UTF-8")


def test_using_graph_parameters_are_refused_rather_than_ignored(api: TestClient) -> None:
    """Ignoring ``using-graph-uri`` would run the update over every graph instead of one."""
    form = {"update": INSERT, "using-graph-uri": "urn:x:g"}
    refused(api.post("/sparql", data=form, headers=AUTH), 400, "using-graph-uri")
    in_url = api.post(
        "/sparql",
        params={"using-named-graph-uri": "urn:x:g"},
        content=INSERT.encode(),
        headers=UPDATE_MEDIA | AUTH,
    )
    refused(in_url, 400, "using-named-graph-uri")
    assert not inserted(api)
    elsewhere = INSERT.replace("urn:x:g", "urn:x:done")
    done = api.post("/sparql", content=elsewhere.encode(), headers=UPDATE_MEDIA | AUTH)
    assert done.status_code == 204, done.text
    check = api.get("/sparql", params={"query": INSERTED.replace("urn:x:g", "urn:x:done")})
    assert check.json()["boolean"] is True
