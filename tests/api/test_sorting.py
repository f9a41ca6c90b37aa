"""Sorted lists (``sort``/``direction`` served from the catalogue index's ordered indexes) and
AIoD's search parameters (``exact_match``, ``date_modified_after/before``, ``sort``)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.data import AUTH

NAMES = ["banana speech", "Apple speech corpus", "cherry", "apple pie"]


@pytest.fixture
def posted(client: TestClient) -> list[str]:
    client.headers.update(AUTH)
    ids = []
    for i, name in enumerate(NAMES):
        body = {"name": name, "platform": "example", "platform_resource_identifier": str(i)}
        response = client.post("/datasets", json=body)
        assert response.status_code == 200, response.text
        ids.append(response.json()["identifier"])
    return ids


def _names(client: TestClient, path: str, **params: Any) -> list[str]:
    response = client.get(path, params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    return [d["name"] for d in response.json()]


def test_lists_sort_by_name_identifier_and_dates(client: TestClient, posted: list[str]) -> None:
    assert _names(client, "/datasets") == NAMES  # insertion order by default
    by_name = sorted(NAMES, key=str.casefold)
    assert _names(client, "/datasets", sort="name") == by_name
    assert _names(client, "/v2/datasets", sort="name", direction="desc") == by_name[::-1]
    assert _names(client, "/datasets", sort="date_created") == NAMES
    assert _names(client, "/datasets", sort="date_modified", direction="desc") == NAMES[::-1]
    ids = [d["identifier"] for d in client.get("/datasets", params={"sort": "identifier"}).json()]
    assert ids == sorted(posted)
    page = client.get("/datasets", params={"sort": "name", "offset": 1, "limit": 2}).json()
    assert [d["name"] for d in page] == by_name[1:3]


def test_unknown_sort_is_a_422(client: TestClient, posted: list[str]) -> None:
    for params in ({"sort": "colour"}, {"sort": "name", "direction": "sideways"}):
        response = client.get("/datasets", params=params)
        assert response.status_code == 422
        assert "detail" in response.json()


def test_search_exact_match_dates_and_sort(client: TestClient, posted: list[str]) -> None:
    search = client.app.state.search  # type: ignore[attr-defined]
    if search is None:
        pytest.skip("search is disabled in this configuration")
    search.flush()
    loose = client.get("/search/datasets", params={"search_query": "speech"}).json()
    assert loose["total_hits"] >= 2
    exact = client.get(
        "/search/datasets", params={"search_query": "speech corpus", "exact_match": "true"}
    ).json()
    assert [r["name"] for r in exact["resources"]] == ["Apple speech corpus"]
    assert exact["total_hits"] == 1
    ordered = client.get(
        "/search/datasets", params={"search_query": "speech", "sort": "name", "direction": "desc"}
    ).json()
    names = [r["name"] for r in ordered["resources"]]
    assert names == sorted(names, key=str.casefold, reverse=True) and len(names) >= 2
    future = client.get(
        "/search/datasets", params={"search_query": "speech", "date_modified_after": "2999-01-01"}
    ).json()
    assert future["total_hits"] == 0 and future["resources"] == []
    past = client.get(
        "/search/datasets", params={"search_query": "speech", "date_modified_before": "2999-01-01"}
    ).json()
    assert past["total_hits"] == loose["total_hits"]


def test_a_total_beyond_the_candidate_pool_is_marked_a_lower_bound(
    client: TestClient, posted: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    search = client.app.state.search  # type: ignore[attr-defined]
    if search is None:
        pytest.skip("search is disabled in this configuration")
    search.flush()
    for path, params in (
        ("/search/datasets", {"search_query": "speech"}),
        ("/search", {"q": "speech"}),
    ):
        whole = client.get(path, params=params).json()
        assert whole["total_hits"] >= 2 and "total_hits_is_lower_bound" not in whole
    from kg.search import ranking

    monkeypatch.setattr(ranking, "POOL", 1)  # each signal brings one candidate
    for path, params in (
        ("/search/datasets", {"search_query": "speech"}),
        ("/search", {"q": "speech"}),
    ):
        cut = client.get(path, params=params).json()
        assert cut["total_hits_is_lower_bound"] is True, cut
