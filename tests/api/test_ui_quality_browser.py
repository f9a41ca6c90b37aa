"""Issue 18's UI in a real browser (headless Debian Chromium, Playwright) against a real
``aiod-kg serve``: one search hit per work with "also on" and the quality facet, an owner
accepting a suggested research area on the asset page, a moderator confirming a proposed
duplicate, and the share page's quality advice on a saved draft before submitting.

Screenshots go to ``test-output/browser/`` (git-ignored)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support.browser import chromium, playwright_or_skip, shot, watched_page
from tests.support.data import ADMIN_KEY, AUTH
from tests.support.server import LiveServer, running_server, starts_server
from tests.support.ui_data import wait_indexed

sync_api = playwright_or_skip()

pytestmark = [pytest.mark.slow, pytest.mark.browser]
DOI = "https://doi.org/10.5281/zenodo.7654321"
TIDES = "Hourly sea level of the tide gauges of the Baltic coast since 1990, quality controlled."
WIND = "Hourly power output and wind speed of the turbines of a North Sea wind farm."
VISION = (
    "Street scenes from 50 cities with pixel-level annotations of cars, pedestrians and "
    "roads, for semantic segmentation and object detection in images."
)


def _dataset(name: str, platform: str, resource: str, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "platform": platform,
        "platform_resource_identifier": resource,
        "description": {"plain": text},
        **extra,
    }


def _until(check: Callable[[], bool], what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise TimeoutError(what)


class World:
    def __init__(self, server: LiveServer, ids: dict[str, str], user_key: str) -> None:
        self.base = server.base_url
        self.ids = ids
        self.user_key = user_key


@pytest.fixture(scope="module")
@starts_server
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running_server(tmp_path_factory.mktemp("ui-quality") / "store") as server:
        base = server.base_url
        ids = {}
        for key, body in (
            ("tides_zenodo", _dataset("Baltic tide gauges", "zenodo", "7654321", TIDES, pid=DOI)),
            ("tides_openml", _dataset("Baltic tide gauges", "openml", "4242", TIDES, same_as=DOI)),
            ("wind_zenodo", _dataset("North Sea wind farm output", "zenodo", "w1", WIND)),
            ("wind_openml", _dataset("North-Sea wind farm output", "openml", "w2", WIND)),
            ("streets", _dataset("City street scenes", "huggingface", "streets", VISION)),
        ):
            created = httpx.post(f"{base}/datasets", headers=AUTH, json=body, timeout=60)
            assert created.status_code == 200, created.text
            ids[key] = created.json()["identifier"]
        wait_indexed(base, len(ids))

        def suggested() -> bool:
            found = httpx.get(f"{base}/suggestions/{ids['streets']}", timeout=30)
            return found.status_code == 200 and bool(found.json()["items"])

        def proposed() -> bool:
            found = httpx.get(f"{base}/duplicates", headers=AUTH, timeout=30)
            return found.status_code == 200 and bool(found.json()["items"])

        _until(suggested, "no suggestions")
        _until(proposed, "no proposed duplicates")
        made = httpx.post(
            f"{base}/api_keys", headers=AUTH, json={"name": "Grace", "roles": []}, timeout=30
        )
        assert made.status_code == 200, made.text
        yield World(server, ids, made.json()["key"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    with watched_page(browser) as (page, errors):
        yield page
    assert not errors, errors  # no script errors, no CSP violations, no failed loads


def sign_in(world: World, page: Any, key: str, name: str) -> None:
    page.goto(world.base + "/signin")
    page.get_by_label("API key or access token").fill(key)
    page.get_by_role("button", name="Sign in with the key").click()
    page.get_by_role("navigation", name="Account").get_by_text(name, exact=True).wait_for()


def test_one_hit_per_work_and_the_quality_facet(world: World, page: Any) -> None:
    page.goto(world.base + "/?q=Baltic+tide+gauges")
    hits = page.locator("ol.hits > li")
    tides = hits.filter(has_text="Baltic tide gauges")
    assert tides.count() == 1  # the same DOI on two platforms: one work, one hit
    also = tides.locator(".also-on")
    assert re.search(r"also on: (zenodo|openml)", also.inner_text())
    assert tides.locator(".quality").inner_text().startswith("quality: ")
    shot(page, "q1-also-on")

    quality = page.get_by_role("group", name="Quality")
    rating = quality.get_by_role("checkbox").first
    value = rating.get_attribute("value")
    with page.expect_navigation():
        rating.click()
    assert f"quality={value}" in page.url
    badges = page.locator("ol.hits .quality").all_inner_texts()
    assert badges and all(b == f"quality: {value}" for b in badges)
    assert page.get_by_role("link", name=f"Remove filter quality: {value}").count() == 1
    shot(page, "q2-quality-facet")


def test_owner_accepts_a_suggested_research_area(world: World, page: Any) -> None:
    sign_in(world, page, ADMIN_KEY, "admin")
    page.goto(f"{world.base}/datasets/{world.ids['streets']}")
    page.locator("#quality summary").click()
    assert page.locator("#quality .advice li").count() >= 1  # the advice
    box = page.get_by_role("region", name="Suggested terms")
    box.wait_for()
    shot(page, "q3-suggestions")
    box.get_by_role("button", name="Accept research area Computer Vision").click()
    page.get_by_text("Added “Computer Vision” to research area").wait_for()
    record = httpx.get(f"{world.base}/datasets/{world.ids['streets']}", timeout=30).json()
    assert "Computer Vision" in record["research_area"]
    page.reload()
    assert page.get_by_role("cell", name=re.compile("Computer Vision")).count() == 1


def test_anonymous_readers_see_no_suggestions(world: World, page: Any) -> None:
    page.goto(f"{world.base}/datasets/{world.ids['streets']}")
    page.wait_for_load_state("networkidle")
    assert page.locator("#suggestions-box").is_hidden()


def test_moderator_confirms_a_duplicate(world: World, page: Any) -> None:
    sign_in(world, page, ADMIN_KEY, "admin")
    page.goto(world.base + "/moderation/duplicates")
    pair = page.locator("li.duplicate").filter(has_text="North Sea wind farm output")
    pair.wait_for()
    assert "score" in pair.inner_text()
    shot(page, "q4-duplicates")
    pair.get_by_role("button", name=re.compile("^Confirm pair")).click()
    pair.get_by_text("Confirmed: the same work.").wait_for()

    def one_hit() -> bool:
        found = httpx.get(
            f"{world.base}/search", params={"q": "North Sea wind farm output"}, timeout=30
        ).json()["items"]
        return len([i for i in found if "wind farm" in i["name"]]) == 1

    _until(one_hit, "the confirmed pair is still two hits", 60)


def test_share_page_shows_the_drafts_advice(world: World, page: Any) -> None:
    page.goto(world.base + "/share")
    page.get_by_label("API key or access token").fill(world.user_key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as Grace").wait_for()
    page.get_by_label(re.compile("^Content")).fill(json.dumps({"name": "Harbour webcams"}))
    page.get_by_role("button", name="Check").click()
    page.get_by_text(re.compile("^Valid")).wait_for()
    page.get_by_role("button", name="Save as draft").click()
    advice = page.locator("#draft-quality")
    advice.wait_for()
    assert "Add keywords." in advice.locator("#draft-advice").inner_text()
    assert page.get_by_role("button", name="Submit for review").is_visible()
    shot(page, "q5-share-advice")
