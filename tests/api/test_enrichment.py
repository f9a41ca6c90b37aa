"""``GET /suggestions/{id}`` and ``POST /suggestions/{id}/accept|reject`` on the real app (in
process, with the real MiniLM model): readers see an asset's suggestions (a draft's only its
owner: the same 404 as a missing asset for anyone else); accepting adds the term through the
validated write path keeping the publisher's values; rejecting hides it for good; 401 / 403 /
404 / 422 with the error envelope."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from kg.settings import Settings
from tests.support.data import ADMIN_KEY, AUTH

VISION = (
    "Street scenes from 50 cities with pixel-level annotations of cars, pedestrians and "
    "roads, for semantic segmentation and object detection in images."
)
SPEECH = "One-second audio clips of spoken command words for keyword spotting and speech."


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    store: Path = tmp_path_factory.mktemp("enrichment") / "store"
    settings = Settings(
        store=str(store),
        admin_key=ADMIN_KEY,
        base_url="http://127.0.0.1:8000",
        search_warmup=False,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def _key(client: TestClient, name: str) -> dict[str, str]:
    made = client.post("/api_keys", headers=AUTH, json={"name": name, "roles": []})
    assert made.status_code == 200, made.text
    return {"Authorization": f"Bearer {made.json()['key']}"}


def _create(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> str:
    created = client.post("/datasets", headers=headers, json=body)
    assert created.status_code == 200, created.text
    return str(created.json()["identifier"])


def _terms(client: TestClient, identifier: str, **kw: Any) -> set[tuple[str, str]]:
    found = client.get(f"/suggestions/{identifier}", **kw)
    assert found.status_code == 200, found.text
    return {(s["field"], s["term"]) for s in found.json()["items"]}


def test_suggestions_follow_visibility_and_decisions(app_client: TestClient) -> None:
    owner, stranger = _key(app_client, "owner"), _key(app_client, "stranger")
    public = _create(
        app_client,
        AUTH,
        {
            "name": "City street scenes",
            "platform": "zenodo",
            "platform_resource_identifier": "cs",
            "description": {"plain": VISION},
            "keyword": ["street"],
            "research_area": ["Machine Learning"],
        },
    )
    draft = _create(
        app_client,
        owner,
        {"name": "Spoken commands", "description": {"plain": SPEECH}},
    )
    assert app_client.app.state.linker.flush()  # type: ignore[attr-defined]

    assert ("research_area", "Computer Vision") in _terms(app_client, public)
    assert app_client.get(f"/suggestions/{public}").json()["can_decide"] is False
    assert app_client.get(f"/suggestions/{public}", headers=AUTH).json()["can_decide"] is True
    assert app_client.get(f"/suggestions/{draft}", headers=owner).json()["can_decide"] is True
    assert ("research_area", "Speech Processing") in _terms(app_client, draft, headers=owner)
    missing = "data_AAAAAAAAAAAAAAAAAAAAAAAA"
    for who in ({}, stranger):
        hidden = app_client.get(f"/suggestions/{draft}", headers=who)
        unknown = app_client.get(f"/suggestions/{missing}", headers=who)
        assert hidden.status_code == unknown.status_code == 404
        assert hidden.json()["detail"].replace(draft, "?") == unknown.json()["detail"].replace(
            missing, "?"
        )

    where = {"field": "research_area", "term": "Computer Vision"}
    assert app_client.post(f"/suggestions/{public}/accept", params=where).status_code == 401
    denied = app_client.post(f"/suggestions/{public}/accept", params=where, headers=stranger)
    assert denied.status_code == 403 and set(denied.json()) == {"detail", "reference"}
    assert (
        app_client.post(f"/suggestions/{draft}/reject", params=where, headers=stranger).status_code
        == 404
    )

    accepted = app_client.post(f"/suggestions/{public}/accept", params=where, headers=AUTH)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    record = app_client.get(f"/datasets/{public}").json()
    assert set(record["research_area"]) == {"Machine Learning", "Computer Vision"}  # theirs stay
    assert record["keyword"] == ["street"]
    assert ("research_area", "Computer Vision") not in _terms(app_client, public)
    again = app_client.post(f"/suggestions/{public}/accept", params=where, headers=AUTH)
    assert again.status_code == 404  # no longer an open suggestion

    speech = {"field": "research_area", "term": "Speech Processing"}
    rejected = app_client.post(f"/suggestions/{draft}/reject", params=speech, headers=owner)
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    record = app_client.get(f"/datasets/{draft}", headers=owner).json()
    assert "Speech Processing" not in (record.get("research_area") or [])
    changed = {**record, "name": "Spoken command words"}
    assert app_client.put(f"/datasets/{draft}", headers=owner, json=changed).status_code == 200
    assert app_client.app.state.linker.flush()  # type: ignore[attr-defined]
    assert ("research_area", "Speech Processing") not in _terms(
        app_client, draft, headers=owner
    )  # recomputed on change, still rejected


def test_bad_input_gets_the_envelope(app_client: TestClient) -> None:
    wrong = app_client.post(
        "/suggestions/data_AAAAAAAAAAAAAAAAAAAAAAAA/accept",
        params={"field": "name", "term": "x"},
        headers=AUTH,
    )
    assert wrong.status_code == 422 and set(wrong.json()) == {"detail", "reference"}
    odd = app_client.get("/suggestions/..%2F..%2Fetc")
    assert odd.status_code == 404 and set(odd.json()) == {"detail", "reference"}
