"""GET of one asset, the hot path (api/routes/assets.py ``DirectRoute``): without FastAPI's
dependencies it must still document its parameters, resolve the caller as every other route
does (401 for a bad header, even on a public read) and answer with the linked-data headers."""

from __future__ import annotations

from fastapi.testclient import TestClient

from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from tests.support.data import AUTH

DATASET = {"platform": "example", "platform_resource_identifier": "g1", "name": "Get me"}


def test_the_parameters_are_documented(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path, operation_id in (
        ("/datasets/{identifier}", "get_dataset"),
        ("/v2/datasets/{identifier}", "get_dataset_v2"),
    ):
        operation = spec["paths"][path]["get"]
        assert operation["operationId"] == operation_id
        parameters = {p["name"]: p for p in operation["parameters"]}
        assert set(parameters) == {"identifier", "format"}
        assert parameters["identifier"]["in"] == "path"
        assert parameters["identifier"]["required"] is True
        assert parameters["format"]["in"] == "query"
        assert parameters["format"]["required"] is False
        assert "application/json" in operation["responses"]["200"]["content"]


def test_callers_are_resolved_as_on_every_route(client: TestClient, catalog: Catalog) -> None:
    identifier = catalog.create(ASSET_TYPES["datasets"], dict(DATASET))
    path = f"/datasets/{identifier}"

    anonymous = client.get(path)
    assert anonymous.status_code == 200
    assert anonymous.json()["name"] == "Get me"
    assert anonymous.headers["etag"].startswith('"')
    assert 'rel="alternate"' in anonymous.headers["link"]
    assert anonymous.headers["last-modified"].endswith(" GMT")
    assert anonymous.headers["x-content-type-options"] == "nosniff"
    assert client.get(path, headers={"If-None-Match": anonymous.headers["etag"]}).status_code == 304

    for bad in ("Basic dXNlcjpwdw==", "Bearer", "Bearer aiodkg_not-a-key", "Bearer wrong"):
        refused = client.get(path, headers={"Authorization": bad})
        assert refused.status_code == 401, bad
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert set(refused.json()) == {"detail", "reference"}

    assert client.get(path, headers=AUTH).json()["name"] == "Get me"
    assert (
        client.get(path, params={"format": "turtle"})
        .headers["content-type"]
        .startswith("text/turtle")
    )
    missing = client.get("/datasets/data_AAAAAAAAAAAAAAAAAAAAAAAA")
    assert missing.status_code == 404
    assert set(missing.json()) == {"detail", "reference"}
    # a dataset identifier under another type is not found either
    assert client.get(f"/ml_models/{identifier}").status_code == 404


def test_a_draft_is_not_found_without_rights(client: TestClient, catalog: Catalog) -> None:
    draft = {**DATASET, "platform_resource_identifier": "g2", "aiod_entry": {"status": "draft"}}
    identifier = catalog.create(ASSET_TYPES["datasets"], draft)
    assert client.get(f"/datasets/{identifier}").status_code == 404
    assert client.get(f"/datasets/{identifier}", headers=AUTH).status_code == 200
