"""``GET /quality`` and ``GET /quality/assets/{id}`` on the real app (in process, search off):
averages per platform and type, the most common problems, one asset's assessment; drafts are
never assessed (the same 404 as an unknown identifier); bad input gets the error envelope."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from kg.settings import Settings
from tests.support.data import ADMIN_KEY, AUTH


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        store=str(tmp_path / "store"),
        admin_key=ADMIN_KEY,
        base_url="http://127.0.0.1:8000",
        search_enabled=False,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_quality_summary_and_one_asset(app_client: TestClient) -> None:
    ids = {}
    for tag, platform, extra in (
        (
            "rich",
            "zenodo",
            {"keyword": ["wind"], "license": "https://creativecommons.org/licenses/by/4.0/"},
        ),
        ("bare", "openml", {}),
        ("draft", "openml", {"aiod_entry": {"status": "draft"}}),
    ):
        body = {"name": f"Wind {tag}", "platform": platform, "platform_resource_identifier": tag}
        created = app_client.post("/datasets", json={**body, **extra}, headers=AUTH)
        assert created.status_code == 200, created.text
        ids[tag] = created.json()["identifier"]
    linker = app_client.app.state.linker  # type: ignore[attr-defined]
    assert linker.flush()

    summary = app_client.get("/quality").json()
    assert summary["assets"] == 2 and 0 < summary["average"] < 1
    assert set(summary["dimensions"]) == {
        "findability",
        "accessibility",
        "interoperability",
        "reusability",
        "contextuality",
    }
    top = summary["problems"][0]
    assert top["assets"] == 2 and top["share"] == 1.0 and top["advice"]
    openml = app_client.get("/quality", params={"platform": "openml", "type": "datasets"}).json()
    assert openml["assets"] == 1 and openml["groups"][0]["platform"] == "openml"

    rich = app_client.get(f"/quality/assets/{ids['rich']}").json()
    bare = app_client.get(f"/quality/assets/{ids['bare']}").json()
    assert rich["score"] > bare["score"] and rich["indicators"]["keyword"]["met"] == 1.0
    assert "Add keywords." in bare["advice"]

    draft = app_client.get(f"/quality/assets/{ids['draft']}")
    missing = "data_AAAAAAAAAAAAAAAAAAAAAAAA"
    unknown = app_client.get(f"/quality/assets/{missing}")
    assert draft.status_code == unknown.status_code == 404
    assert set(draft.json()) == {"detail", "reference"}
    said = draft.json()["detail"].replace(ids["draft"], "?")
    assert said == unknown.json()["detail"].replace(missing, "?")  # answered like a missing one


def test_quality_bad_input(app_client: TestClient) -> None:
    wrong = app_client.get("/quality", params={"type": "nope"})
    assert wrong.status_code == 422 and set(wrong.json()) == {"detail", "reference"}
    odd = app_client.get("/quality/assets/..%2F..%2Fetc")
    assert odd.status_code == 404 and "reference" in odd.json()


def test_a_drafts_advice_for_whoever_may_read_it(app_client: TestClient) -> None:
    made = app_client.post("/api_keys", headers=AUTH, json={"name": "owner", "roles": []})
    other = app_client.post("/api_keys", headers=AUTH, json={"name": "other", "roles": []})
    owner = {"Authorization": f"Bearer {made.json()['key']}"}
    stranger = {"Authorization": f"Bearer {other.json()['key']}"}
    created = app_client.post("/datasets", headers=owner, json={"name": "Tide gauges"})
    assert created.status_code == 200, created.text
    draft = created.json()["identifier"]

    mine = app_client.get(f"/quality/assets/{draft}", headers=owner)
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["status"] == "draft" and body["rating"] in ("bad", "sufficient")
    assert "Add keywords." in body["advice"] and body["indicators"]["keyword"]["met"] == 0.0
    missing = "data_AAAAAAAAAAAAAAAAAAAAAAAA"
    for who in ({}, stranger):
        hidden = app_client.get(f"/quality/assets/{draft}", headers=who)
        unknown = app_client.get(f"/quality/assets/{missing}", headers=who)
        assert hidden.status_code == unknown.status_code == 404
        assert hidden.json()["detail"].replace(draft, "?") == unknown.json()["detail"].replace(
            missing, "?"
        )
    linker = app_client.app.state.linker  # type: ignore[attr-defined]
    assert linker.flush()
    assert app_client.get("/quality").json()["assets"] == 0  # the summary: public assets only
