"""Every error path answers the envelope {"detail", "reference"}, with a useful message, never
a 500, and writes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.data import AUTH, example_records

GOOD = {"name": "A dataset", "platform": "example", "platform_resource_identifier": "1"}


def assert_envelope(response: Any, status: int) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "reference"}, body
    assert re.fullmatch(r"[0-9a-f]{32}", body["reference"])
    assert body["detail"]
    return body["detail"]


def fields_of(detail: list[dict[str, Any]]) -> dict[str, str]:
    assert isinstance(detail, list)
    for problem in detail:
        assert set(problem) == {"field", "message", "value"}
    return {p["field"]: p["message"] for p in detail}


def nothing_written(client: TestClient) -> None:
    assert client.get("/counts").json() == {}


def test_bad_json(client: TestClient) -> None:
    response = client.post(
        "/datasets", content=b'{"name": "x",', headers={**AUTH, "Content-Type": "application/json"}
    )
    detail = assert_envelope(response, 400)
    assert "Not valid JSON" in detail["message"]
    assert detail["line"] == 1 and detail["column"]
    nothing_written(client)


@pytest.mark.parametrize("body", [b"", b"[]", b'"text"', b"42", b"null"])
def test_body_that_is_not_an_object(client: TestClient, body: bytes) -> None:
    response = client.post(
        "/datasets", content=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert_envelope(response, response.status_code)
    nothing_written(client)


def test_invalid_utf8(client: TestClient) -> None:
    response = client.post(
        "/datasets",
        content=b'{"name": "\xff\xfe"}',
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert_envelope(response, 400)
    nothing_written(client)


def test_wrong_types_unknown_fields_and_missing_required(client: TestClient) -> None:
    body = {
        "platform": "example",
        "platform_resource_identifier": "1",
        "date_published": "yesterday",
        "keyword": "not-a-list",
        "is_accessible_for_free": "yes",
        "distribution": [{"content_url": "not a url", "content_size_kb": "big"}],
        "size": {"unit": "rows", "value": -1},
        "colour": "blue",
        "license": "mit",
        "creator": ["Jane Doe"],
        "aiod_entry": {"status": "almost"},
    }
    response = client.post("/datasets", json=body, headers=AUTH)
    problems = fields_of(assert_envelope(response, 422))
    assert problems["name"] == "Field required."
    assert "date-time" in problems["date_published"]
    assert "list" in problems["keyword"]
    assert problems["is_accessible_for_free"] == "Expected true or false."
    assert "URL" in problems["distribution[0].content_url"]
    assert "integer" in problems["distribution[0].content_size_kb"]
    assert "at least 0" in problems["size.value"]
    assert problems["colour"] == "Unknown field."
    assert "URL" in problems["license"]
    assert "identifier" in problems["creator[0]"]
    assert "one of" in problems["aiod_entry.status"]
    nothing_written(client)


def test_problem_carries_the_value(client: TestClient) -> None:
    response = client.post("/datasets", json={**GOOD, "keyword": ["ok", 7]}, headers=AUTH)
    detail = assert_envelope(response, 422)
    assert {"field": "keyword[1]", "message": "Expected a string.", "value": 7} in detail


def test_enumerations(client: TestClient) -> None:
    event = {
        "name": "e",
        "platform": "x",
        "platform_resource_identifier": "1",
        "mode": "underwater",
        "status": "scheduled",
    }
    problems = fields_of(assert_envelope(client.post("/events", json=event, headers=AUTH), 422))
    assert set(problems) == {"mode"}
    org = {"name": "o", "type": "Pirate Ship"}
    assert "type" in fields_of(
        assert_envelope(client.post("/organisations", json=org, headers=AUTH), 422)
    )


def test_platform_pair_must_be_complete(client: TestClient) -> None:
    response = client.post("/datasets", json={"name": "x", "platform": "openml"}, headers=AUTH)
    assert "platform_resource_identifier" in fields_of(assert_envelope(response, 422))


def test_duplicate_platform_identifier_is_409_naming_the_existing(client: TestClient) -> None:
    first = client.post("/datasets", json=GOOD, headers=AUTH).json()["identifier"]
    detail = assert_envelope(client.post("/datasets", json=GOOD, headers=AUTH), 409)
    assert first in detail
    # the same platform id is fine for another asset type
    assert client.post("/ml_models", json=GOOD, headers=AUTH).status_code == 200


def test_put_to_another_assets_platform_identifier_is_409(client: TestClient) -> None:
    client.post("/datasets", json=GOOD, headers=AUTH)
    other = client.post(
        "/datasets", json={**GOOD, "platform_resource_identifier": "2"}, headers=AUTH
    ).json()["identifier"]
    assert_envelope(client.put(f"/datasets/{other}", json=GOOD, headers=AUTH), 409)
    assert client.get(f"/datasets/{other}").json()["platform_resource_identifier"] == "2"


@pytest.mark.parametrize(
    "identifier",
    [
        "nope",
        "mdl_AAAAAAAAAAAAAAAAAAAAAAAA",
        "data_",
        "data_AAAAAAAAAAAAAAAAAAAAAAA%21",
    ],
)
def test_unknown_or_wrong_prefix_identifier_is_404(client: TestClient, identifier: str) -> None:
    model = client.post("/ml_models", json=GOOD, headers=AUTH).json()["identifier"]
    detail = assert_envelope(client.get(f"/datasets/{identifier}"), 404)
    assert detail.endswith("not found in the database.")
    # an existing identifier under the wrong type is not found either
    assert_envelope(client.get(f"/datasets/{model}"), 404)
    assert_envelope(client.put(f"/datasets/{model}", json=GOOD, headers=AUTH), 404)
    assert_envelope(client.delete(f"/datasets/{model}", headers=AUTH), 404)
    assert client.get(f"/ml_models/{model}").status_code == 200


def test_writes_need_the_admin_key(client: TestClient) -> None:
    assert_envelope(client.post("/datasets", json=GOOD), 401)
    response = client.post("/datasets", json=GOOD, headers={"Authorization": "Bearer wrong"})
    assert_envelope(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert_envelope(client.delete("/datasets/data_AAAAAAAAAAAAAAAAAAAAAAAA"), 401)
    nothing_written(client)


def test_writes_are_off_without_a_configured_key(tmp_path: Any) -> None:
    from api.app import create_app
    from kg.catalog import Catalog
    from kg.settings import Settings

    settings = Settings(store=str(tmp_path / "s"))
    catalog = Catalog(settings)
    try:
        with TestClient(create_app(settings, catalog)) as c:
            # no admin key, no identity provider, no API key: no credential is valid
            detail = assert_envelope(c.post("/datasets", json=GOOD, headers=AUTH), 401)
            assert "AIOD_KG_ADMIN_KEY" in detail
    finally:
        catalog.close()


def test_query_parameter_errors(client: TestClient) -> None:
    problems = fields_of(assert_envelope(client.get("/datasets?limit=5000"), 422))
    assert "limit" in problems
    assert "offset" in fields_of(assert_envelope(client.get("/datasets?offset=-1"), 422))
    assert_envelope(client.get("/datasets?date_modified_after=soon"), 422)
    assert_envelope(client.get("/datasets?format=pdf"), 400)
    assert_envelope(client.get("/datasets", headers={"Accept": "image/png"}), 406)


def test_unsupported_content_type_is_415(client: TestClient) -> None:
    response = client.post(
        "/datasets",
        content=b"name=x",
        headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_envelope(response, 415)


@pytest.mark.parametrize(
    "media,body",
    [
        ("text/turtle", b'<a> <b> "unterminated .'),
        ("application/rdf+xml", b"<rdf:RDF"),
        ("application/ld+json", b'{"@context": "https://example.org/remote-context.jsonld"}'),
        ("application/ld+json", b'{"@context": {"name": "http://schema.org/name"}, "name": "x"}'),
    ],
)
def test_bad_rdf_bodies(client: TestClient, media: str, body: bytes) -> None:
    response = client.post("/datasets", content=body, headers={**AUTH, "Content-Type": media})
    assert response.status_code == 400
    detail = assert_envelope(response, 400)
    assert detail["message"]
    nothing_written(client)


def test_turtle_syntax_error_has_line_and_column(client: TestClient) -> None:
    body = b'@prefix s: <https://schema.org/> .\n<x> a s:Dataset ;\n  s:name "x .'
    response = client.post(
        "/datasets", content=body, headers={**AUTH, "Content-Type": "text/turtle"}
    )
    detail = assert_envelope(response, 400)
    assert detail["line"] == 3


def test_unknown_routes_and_methods(client: TestClient) -> None:
    assert_envelope(client.get("/no-such-thing/at/all"), 404)
    assert_envelope(client.patch("/datasets", json={}), 405)
    assert_envelope(client.get("/counts/unicorns"), 404)


def test_examples_with_a_single_broken_field_name_the_field(client: TestClient) -> None:
    for collection in ("datasets", "ml_models", "publications", "events", "persons"):
        record = dict(example_records(collection)[0])
        record["date_published"] = "31/12/2020"
        problems = fields_of(
            assert_envelope(client.post(f"/{collection}", json=record, headers=AUTH), 422)
        )
        assert set(problems) == {"date_published"}
    nothing_written(client)


def test_body_over_the_size_limit_is_413(client: TestClient) -> None:
    limit = client.app.state.settings.max_body_bytes  # type: ignore[attr-defined]
    big = b'{"name": "' + b"x" * limit + b'"}'
    response = client.post(
        "/datasets", content=big, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert_envelope(response, 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    response = client.post(
        "/datasets", content=chunks(), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert_envelope(response, 413)
    nothing_written(client)
