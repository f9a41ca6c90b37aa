"""Search shows one hit per work (issue 18): records of the same work on several platforms
(a shared DOI) come back as one item of ``/search`` with ``also_on`` naming the other
platforms; the AIoD contract ``/search/{type}`` is unchanged; the asset page lists the others."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from kg.search.ranking import Hit, group_by_work
from tests.support.data import AUTH

DOI = "https://doi.org/10.1234/glacier.42"


def test_group_by_work_keeps_the_best_hit_of_each_work() -> None:
    hits = [Hit("a", "datasets", 0.9), Hit("x", "datasets", 0.8), Hit("b", "datasets", 0.7)]
    works = {"a": ["a", "b"], "b": ["a", "b"], "x": ["x"]}
    grouped = group_by_work(hits, works.__getitem__)
    assert [(h.identifier, others) for h, others in grouped] == [("a", ["b"]), ("x", [])]


def test_one_hit_per_work_with_also_on(client: TestClient) -> None:
    search = client.app.state.search  # type: ignore[attr-defined]
    linker = client.app.state.linker  # type: ignore[attr-defined]
    if search is None or linker is None:
        pytest.skip("search or linking is disabled in this configuration")
    ids = {}
    for platform, name in (("zenodo", "Glacier melt"), ("openml", "glacier-melt")):
        body = {
            "name": name,
            "platform": platform,
            "platform_resource_identifier": f"{platform}-1",
            "same_as": DOI,
            "description": {"plain": "Yearly melt of Alpine glaciers measured by satellite."},
        }
        created = client.post("/datasets", json=body, headers=AUTH)
        assert created.status_code == 200, created.text
        ids[platform] = created.json()["identifier"]
    other = client.post(
        "/datasets",
        headers=AUTH,
        json={
            "name": "Glacier outlines",
            "platform": "zenodo",
            "platform_resource_identifier": "z2",
        },
    )
    assert other.status_code == 200, other.text
    search.flush()
    assert linker.flush()

    items = client.get("/search", params={"q": "glacier"}).json()["items"]
    shown = [i["identifier"] for i in items]
    assert other.json()["identifier"] in shown
    work = [i for i in items if i["identifier"] in ids.values()]
    assert len(work) == 1  # one hit for the two records
    (item,) = work
    theirs = "openml" if item["identifier"] == ids["zenodo"] else "zenodo"
    assert item["also_on"] == [theirs]
    assert [r["identifier"] for r in item["same_work"]] == [ids[theirs]]

    contract = client.get("/search/datasets", params={"search_query": "glacier"}).json()
    listed = {r["identifier"] for r in contract["resources"]}
    assert set(ids.values()) <= listed  # the AIoD contract lists every record
    assert all("also_on" not in r for r in contract["resources"])

    page = client.get(f"/datasets/{ids['zenodo']}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "Also on" in page.text
    assert f"/datasets/{ids['openml']}" in page.text
