"""The UI's parts of issue 18, server side (no browser): one search hit per work with "also
on", the quality badges and facet, the asset page's quality badge and suggestions box, the
share page's advice block and the moderators' duplicates page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from kg.catalog import Catalog
from kg.settings import Settings
from tests.support.data import ADMIN_KEY, AUTH

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
DOI = "https://doi.org/10.5281/zenodo.1234567"
TEXT = "Hourly sea level of the tide gauges of the Baltic coast since 1990, quality controlled."


def _dataset(platform: str, resource: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "Baltic tide gauges",
        "platform": platform,
        "platform_resource_identifier": resource,
        "description": {"plain": TEXT},
        **extra,
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    store: Path = tmp_path_factory.mktemp("ui-quality") / "store"
    settings = Settings(
        store=str(store), admin_key=ADMIN_KEY, base_url="http://127.0.0.1:8000", search_warmup=False
    )
    catalog = Catalog(settings)
    with TestClient(create_app(settings, catalog), raise_server_exceptions=False) as client:
        ids = {}
        for key, body in (
            ("zenodo", _dataset("zenodo", "1234567", pid=DOI, keyword=["sea level"])),
            ("openml", _dataset("openml", "42", same_as=DOI)),
            ("other", {**_dataset("huggingface", "x"), "name": "Alpine rainfall"}),
        ):
            created = client.post("/datasets", headers=AUTH, json=body)
            assert created.status_code == 200, created.text
            ids[key] = created.json()["identifier"]
        assert client.app.state.linker.flush(300)  # type: ignore[attr-defined]
        assert client.app.state.search.flush(300)  # type: ignore[attr-defined]
        yield client, ids
    catalog.close()


def html(response: Any) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return str(response.text)


def test_one_hit_per_work_with_also_on(world: tuple[TestClient, dict[str, str]]) -> None:
    client, ids = world
    page = html(client.get("/", params={"q": "Baltic tide gauges"}))
    shown = [i for i in (ids["zenodo"], ids["openml"]) if f'<h3><a href="/datasets/{i}"' in page]
    assert len(shown) == 1  # the two records of the work: one hit
    other = ids["openml"] if shown[0] == ids["zenodo"] else ids["zenodo"]
    also = re.search(r'<span class="also-on">also on: (.*?)</span>', page, re.S)
    assert also is not None and f'href="/datasets/{other}"' in also.group(1)


def test_quality_badges_and_facet(world: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = world
    page = html(client.get("/"))
    assert 'data-facet="quality"' in page and 'class="quality quality-' in page
    ratings = re.findall(r'name="quality" value="(\w+)"', page)
    assert ratings and set(ratings) <= {"excellent", "good", "sufficient", "bad"}
    rating = ratings[0]
    only = html(client.get("/", params={"quality": rating}))
    badges = re.findall(r'<span class="quality quality-(\w+)"', only)
    assert badges and set(badges) == {rating}
    assert re.search(rf'name="quality" value="{rating}"\s*checked', only)
    assert "Remove filter quality" in only  # the chip
    none = html(client.get("/", params={"quality": "nope"}))
    assert "Nothing found" in none


def test_asset_page_badge_and_suggestions_box(world: tuple[TestClient, dict[str, str]]) -> None:
    client, ids = world
    page = html(client.get(f"/datasets/{ids['zenodo']}", headers=BROWSER))
    assert 'id="quality"' in page and "Metadata quality:" in page
    assert "State the licence." in page  # the advice
    assert 'id="suggestions-box"' in page and "/suggestions.js" in page
    assert 'id="same-work-h"' in page and f'href="/datasets/{ids["openml"]}"' in page


def test_share_page_and_duplicates_page(world: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = world
    share = html(client.get("/share"))
    assert 'id="draft-quality"' in share and "/share-quality.js" in share
    page = client.get("/moderation/duplicates")
    text = html(page)
    assert 'id="duplicates"' in text and "/duplicates.js" in text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for script in ("duplicates.js", "suggestions.js", "share-quality.js"):
        assert client.get(f"/ui/static/{script}").status_code == 200


def _quality_facet(page: str) -> tuple[str, dict[str, int]]:
    """The quality facet's legend and counts, and the result count in the summary."""
    facet = re.search(r'data-facet="quality">\s*<legend>(.*?)</legend>(.*?)</fieldset>', page, re.S)
    assert facet is not None
    counts = re.findall(r'value="(\w+)".*?<span class="count">(\d+)</span>', facet.group(2), re.S)
    return facet.group(1), {name: int(n) for name, n in counts}


def _result_count(page: str) -> int:
    summary = re.search(r'class="summary">\s*([\d,]+) ', page)
    assert summary is not None
    return int(summary.group(1).replace(",", ""))


def test_quality_facet_counts_add_up_to_the_results(
    world: tuple[TestClient, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = world
    for params in ({"q": "Baltic tide gauges"}, {"q": "rainfall"}, {}):
        page = html(client.get("/", params=params))
        legend, counts = _quality_facet(page)
        assert legend == "Quality"  # every hit counted
        assert sum(counts.values()) == _result_count(page) > 0, params
        for rating, count in counts.items():  # each value filters to as many results
            only = html(client.get("/", params={**params, "quality": rating}))
            assert _result_count(only) == count
    from api.ui import derived_view

    monkeypatch.setattr(derived_view, "QUALITY_SCAN", 1)  # a capped facet says so
    page = html(client.get("/"))
    legend, counts = _quality_facet(page)
    assert legend == f"Quality (first 1 of {_result_count(page)})"
    assert sum(counts.values()) == 1
