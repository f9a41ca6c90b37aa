"""Every example resource of every type: POST, GET back the same fields, and the RDF forms
(Turtle, JSON-LD, N-Triples, RDF/XML) parse back (rdflib) into the same graph."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rdflib import Graph
from rdflib.compare import isomorphic, to_isomorphic

from kg.model.fields import ASSET_TYPES, canonical_names
from tests.support.data import AUTH, example_records

SERVER_FIELDS = {"identifier", "ai_resource_identifier", "ai_asset_identifier", "agent_identifier"}
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$")

CASES = [
    pytest.param(name, i, record, id=f"{name}-{i}")
    for name in ASSET_TYPES
    for i, record in enumerate(example_records(name))
]


@pytest.fixture
def client(client: TestClient) -> TestClient:
    """Reads as the admin: most example records are drafts, which only callers with the right
    see (anonymous reads of non-public assets: tests/kg/access/test_isolation.py)."""
    client.headers.update(AUTH)
    return client


def normalise(value: Any) -> Any:
    """Compare as the AIoD contract does: lists are sets, datetimes are instants."""
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items() if v not in (None, [], {})}
    if isinstance(value, list):
        items = [normalise(v) for v in value]
        if items and isinstance(items[0], dict):
            return items  # nested objects keep their order
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, str) and _DATETIME.match(value):
        return datetime.fromisoformat(value)
    return value


def post(client: TestClient, collection: str, record: dict[str, Any]) -> str:
    response = client.post(f"/{collection}", json=record, headers=AUTH)
    assert response.status_code == 200, response.text
    identifier = response.json()["identifier"]
    assert identifier.startswith(ASSET_TYPES[collection].prefix + "_")
    assert re.fullmatch(r"[a-z]+_[A-Za-z0-9]{24}", identifier)
    return str(identifier)


@pytest.mark.parametrize(("collection", "position", "record"), CASES)
def test_post_then_get_returns_the_same_fields(
    client: TestClient, collection: str, position: int, record: dict[str, Any]
) -> None:
    identifier = post(client, collection, record)
    response = client.get(f"/{collection}/{identifier}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    got = response.json()
    assert got["identifier"] == identifier
    entry = got["aiod_entry"]
    assert entry["status"] == record.get("aiod_entry", {}).get("status", "published")
    assert entry["date_created"] and entry["date_modified"]
    # former AIoD names (language, total_cost_euro) come back under today's names
    sent = dict(canonical_names(ASSET_TYPES[collection], record))
    sent.pop("aiod_entry", None)
    back = {k: v for k, v in got.items() if k not in SERVER_FIELDS and k != "aiod_entry"}
    assert normalise(back) == normalise(sent)
    for name in SERVER_FIELDS & set(ASSET_TYPES[collection].by_name):
        assert got[name] == identifier


@pytest.mark.parametrize(("collection", "position", "record"), CASES)
def test_rdf_forms_parse_back_into_the_same_graph(
    client: TestClient, collection: str, position: int, record: dict[str, Any]
) -> None:
    identifier = post(client, collection, record)
    graphs: dict[str, Graph] = {}
    for fmt, rdflib_format, media in (
        ("turtle", "turtle", "text/turtle"),
        ("ntriples", "nt", "application/n-triples"),
        ("rdfxml", "xml", "application/rdf+xml"),
        ("jsonld", "json-ld", "application/ld+json"),
    ):
        response = client.get(f"/{collection}/{identifier}", params={"format": fmt})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(media)
        graphs[fmt] = Graph().parse(data=response.text, format=rdflib_format)
    reference = to_isomorphic(graphs["turtle"])
    assert len(reference) > 10
    for fmt, graph in graphs.items():
        assert isomorphic(reference, graph), f"{fmt} differs from Turtle"


def test_accept_header_selects_the_format(client: TestClient) -> None:
    identifier = post(client, "datasets", example_records("datasets")[0])
    turtle = client.get(f"/datasets/{identifier}", headers={"Accept": "text/turtle"})
    assert turtle.headers["content-type"].startswith("text/turtle")
    assert turtle.headers["vary"] == "Accept"
    # ?format= beats Accept
    forced = client.get(f"/datasets/{identifier}?format=json", headers={"Accept": "text/turtle"})
    assert forced.headers["content-type"].startswith("application/json")
    weighted = client.get(
        f"/datasets/{identifier}",
        headers={"Accept": "text/turtle;q=0.5, application/ld+json;q=0.9"},
    )
    assert weighted.headers["content-type"].startswith("application/ld+json")
    assert client.get(f"/datasets/{identifier}", headers={"Accept": "*/*"}).json()["name"]


def test_jsonld_uses_the_published_context(client: TestClient) -> None:
    identifier = post(client, "datasets", example_records("datasets")[0])
    doc = client.get(f"/datasets/{identifier}?format=jsonld").json()
    context = client.get("/context.jsonld").json()["@context"]
    assert doc["@context"] == context
    assert doc["@id"].endswith(f"/datasets/{identifier}")
    # the plain REST JSON plus the context is JSON-LD with the same core statements
    plain = client.get(f"/datasets/{identifier}").json()
    plain_doc = {"@context": context, "@id": doc["@id"], "@type": doc["@type"], **plain}
    graph = Graph().parse(data=json.dumps(plain_doc), format="json-ld")
    titles = [str(o) for o in graph.objects(predicate=None) if str(o) == plain["name"]]
    assert titles


@pytest.mark.parametrize(
    "fmt,media",
    [
        ("turtle", "text/turtle"),
        ("jsonld", "application/ld+json"),
        ("ntriples", "application/n-triples"),
        ("rdfxml", "application/rdf+xml"),
    ],
)
def test_post_rdf_bodies_create_the_same_asset(client: TestClient, fmt: str, media: str) -> None:
    record = example_records("datasets")[0]
    identifier = post(client, "datasets", record)
    body = client.get(f"/datasets/{identifier}?format={fmt}").content
    client.delete(f"/datasets/{identifier}", headers=AUTH)
    response = client.post("/datasets", content=body, headers={**AUTH, "Content-Type": media})
    assert response.status_code == 200, response.text
    again = client.get(f"/datasets/{response.json()['identifier']}").json()
    assert normalise(
        {k: v for k, v in again.items() if k not in SERVER_FIELDS | {"aiod_entry"}}
    ) == normalise({k: v for k, v in record.items() if k != "aiod_entry"})


def test_list_paging_and_counts(client: TestClient) -> None:
    ids = []
    for i in range(25):
        record = {
            "name": f"dataset {i}",
            "platform": "example",
            "platform_resource_identifier": str(i),
        }
        ids.append(post(client, "datasets", record))
    page = client.get("/datasets", params={"offset": 0, "limit": 10}).json()
    assert [d["identifier"] for d in page] == ids[:10]
    page = client.get("/v2/datasets", params={"offset": 20, "limit": 10}).json()
    assert [d["identifier"] for d in page] == ids[20:]
    assert client.get("/datasets").json()[0]["identifier"] == ids[0]  # default limit 10
    assert len(client.get("/datasets").json()) == 10
    assert client.get("/counts/datasets").json() == 25
    assert client.get("/counts/datasets", params={"detailed": True}).json() == {"example": 25}
    assert client.get("/counts").json() == {"datasets": {"example": 25}}
    turtle = client.get("/datasets", params={"limit": 3, "format": "turtle"})
    assert len(set(Graph().parse(data=turtle.text, format="turtle").subjects())) >= 3


def test_date_modified_filters(client: TestClient) -> None:
    identifier = post(
        client, "datasets", {"name": "d", "platform": "p", "platform_resource_identifier": "1"}
    )
    modified = client.get(f"/datasets/{identifier}").json()["aiod_entry"]["date_modified"]
    before = client.get("/datasets", params={"date_modified_before": modified}).json()
    assert before == []
    after = client.get("/datasets", params={"date_modified_after": "2000-01-01T00:00:00"}).json()
    assert [d["identifier"] for d in after] == [identifier]
    later = client.get("/datasets", params={"date_modified_after": "2999-01-01T00:00:00Z"}).json()
    assert later == []


def test_platform_lookup(client: TestClient) -> None:
    record = {"name": "x", "platform": "openml", "platform_resource_identifier": "data/61"}
    identifier = post(client, "datasets", record)
    got = client.get("/platforms/openml/datasets/data/61").json()
    assert got["identifier"] == identifier
    listed = client.get("/v2/platforms/openml/datasets").json()
    assert [d["identifier"] for d in listed] == [identifier]
    missing = client.get("/platforms/openml/datasets/nope")
    assert missing.status_code == 404
    assert set(missing.json()) == {"detail", "reference"}


def test_put_replaces_and_keeps_identity(client: TestClient) -> None:
    identifier = post(client, "ml_models", example_records("ml_models")[0])
    created = client.get(f"/ml_models/{identifier}").json()["aiod_entry"]["date_created"]
    new = {
        "name": "renamed",
        "platform": "example",
        "platform_resource_identifier": "1",
        "keyword": ["only"],
    }
    response = client.put(f"/ml_models/{identifier}", json=new, headers=AUTH)
    assert response.status_code == 200, response.text
    got = client.get(f"/ml_models/{identifier}").json()
    assert got["name"] == "renamed"
    assert got["keyword"] == ["only"]
    assert got["distribution"] == []  # replaced, not merged
    assert got["aiod_entry"]["date_created"] == created


def test_delete_then_404(client: TestClient) -> None:
    identifier = post(client, "persons", example_records("persons")[0])
    assert client.delete(f"/persons/{identifier}", headers=AUTH).status_code == 200
    response = client.get(f"/persons/{identifier}")
    assert response.status_code == 404
    assert response.json()["detail"] == f"Person '{identifier}' not found in the database."
    assert client.get("/counts/persons").json() == 0
    # the same platform id can be registered again once the old asset is gone
    post(client, "persons", example_records("persons")[0])


def test_user_upload_gets_platform_aiod(client: TestClient) -> None:
    identifier = post(client, "persons", {"name": "Arthur Dent"})
    got = client.get(f"/persons/{identifier}").json()
    assert got["platform"] == "aiod"
    assert got["platform_resource_identifier"] == identifier
    assert got["agent_identifier"] == identifier


def test_deep_list_pages_by_kept_positions(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lists from the catalogue index's kept positions (deep offsets, here from offset 3) are
    the same pages, in every order and direction, and follow writes and deletions."""
    from kg.store import index as index_module

    ids = [
        post(
            client,
            "datasets",
            {
                "name": f"set {(i * 7) % 12}",
                "platform": "example",
                "platform_resource_identifier": str(i),
            },
        )
        for i in range(12)
    ]

    def listing(deep: bool, **params: Any) -> list[list[str]]:
        monkeypatch.setattr(index_module, "DEEP_OFFSET", 3 if deep else 10**9)
        return [
            [
                d["identifier"]
                for d in client.get("/datasets", params={**params, "offset": o, "limit": 4}).json()
            ]
            for o in range(0, 14, 4)
        ]

    orders = [{}, {"direction": "desc"}, {"sort": "name"}, {"sort": "name", "direction": "desc"}]
    assert listing(True)[1] == ids[4:8]
    for k in range(2):
        for order in orders:
            assert listing(True, **order) == listing(False, **order), order
        assert client.delete(f"/datasets/{ids[5 + k]}", headers=AUTH).status_code == 200
        post(
            client,
            "datasets",
            {"name": "set 0", "platform": "example", "platform_resource_identifier": f"new{k}"},
        )
