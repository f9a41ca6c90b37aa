"""A real ``aiod-kg serve`` process on a free port answers the AIoD contract over HTTP."""

from __future__ import annotations

import httpx

from tests.support.data import AUTH, example_records
from tests.support.server import LiveServer


def test_live_server_smoke(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.base_url, timeout=10) as http:
        assert http.get("/health").json() == {"status": "ok"}
        record = {**example_records("datasets")[0], "aiod_entry": {"status": "published"}}
        created = http.post("/v2/datasets", json=record, headers=AUTH)
        assert created.status_code == 200, created.text
        identifier = created.json()["identifier"]
        got = http.get(f"/datasets/{identifier}").json()
        assert got["name"] == record["name"]
        assert got["identifier"] == identifier
        # the asset IRI uses the configured base URL and dereferences
        turtle = http.get(f"/datasets/{identifier}", headers={"Accept": "text/turtle"}).text
        assert (
            f"<{live_server.base_url}/datasets/{identifier}>" in turtle
            or f"{live_server.base_url}/datasets/{identifier}" in turtle
        )
        assert http.get("/counts").json() == {"datasets": {"example": 1}}
        missing = http.get("/datasets/data_AAAAAAAAAAAAAAAAAAAAAAAA")
        assert missing.status_code == 404 and set(missing.json()) == {"detail", "reference"}
        spec = http.get("/openapi.json").json()
        operation_ids = {
            op["operationId"] for path in spec["paths"].values() for op in path.values()
        }
        assert {
            "list_datasets",
            "get_dataset",
            "create_dataset",
            "update_dataset",
            "delete_dataset",
            "get_dataset_v2",
            "counts",
        } <= operation_ids
        assert http.get("/docs").status_code == 200
