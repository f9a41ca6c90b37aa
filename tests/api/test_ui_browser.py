"""The web UI in a real browser: headless Debian Chromium driven by Playwright, against a real
``aiod-kg serve`` process. Search and open a result, suggestions by keyboard, narrow by a
facet, page, run a SPARQL query, share a file (invalid, then fixed and saved as a draft).

One server and one browser for the module; every test gets a fresh browser context. Each page
is photographed under ``test-output/browser/`` (git-ignored).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiod_kg_client import Client

from tests.support.browser import chromium, playwright_or_skip, shot, watched_page
from tests.support.data import ADMIN_KEY, AUTH
from tests.support.server import LiveServer, running_server, starts_server
from tests.support.ui_data import seed, wait_indexed

sync_api = playwright_or_skip()

pytestmark = [pytest.mark.slow, pytest.mark.browser]
EXPECTED_ERRORS: dict[int, tuple[str, ...]] = {}  # id(page) -> console errors a test expects


class World:
    def __init__(self, server: LiveServer, ids: dict[str, str], user_key: str) -> None:
        self.server = server
        self.base = server.base_url
        self.ids = ids
        self.user_key = user_key


@pytest.fixture(scope="module")
@starts_server
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running_server(tmp_path_factory.mktemp("ui") / "store") as server:
        with Client(server.base_url, ADMIN_KEY) as admin:
            ids = seed(admin)
        wait_indexed(server.base_url, len(ids))
        created = httpx.post(
            f"{server.base_url}/api_keys",
            headers=AUTH,
            timeout=30,
            json={"name": "Grace", "roles": ["edit_aiod_resources"]},
        )
        assert created.status_code == 200, created.text
        yield World(server, ids, created.json()["key"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    with watched_page(browser) as (page, errors):
        yield page
    expected = EXPECTED_ERRORS.pop(id(page), ())
    unexpected = [e for e in errors if not any(a in e for a in expected)]
    assert not unexpected, unexpected  # no script errors, no CSP violations, no failed loads


def result_names(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("ol.hits h3 a").all_inner_texts()]


# --------------------------------------------------------------------------- search


def test_search_and_open_a_result(world: World, page: Any) -> None:
    page.goto(world.base + "/")
    assert page.title().startswith("Search")
    assert "31 public assets" in page.locator("#results-h").inner_text()
    shot(page, "01-home")

    page.get_by_label("Find AI datasets").fill("photos of flowers")
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_url(re.compile(r"q=photos\+of\+flowers"))
    names = result_names(page)
    assert names[0] == "oxford_flowers102", names
    assert page.locator("ol.hits li").first.locator("em").count() >= 1  # highlighted words
    shot(page, "02-results")

    page.get_by_role("link", name="oxford_flowers102").click()
    page.wait_for_url(f"**/datasets/{world.ids['flowers']}")
    assert page.locator("h1").inner_text() == "oxford_flowers102"
    # the page is the asset IRI's landing page: schema.org JSON-LD, formats, downloads
    document = json.loads(page.locator('script[type="application/ld+json"]').inner_text())
    assert document["@type"] == "Dataset" and document["name"] == "oxford_flowers102"
    formats = page.get_by_role("region", name="Formats")
    for label in ("JSON", "JSON-LD", "Turtle", "Croissant"):
        assert formats.get_by_role("link", name=label, exact=True).count() == 1
    assert page.get_by_role("link", name="flowers.zip").get_attribute("href") == (
        "https://example.org/files/flowers.zip"
    )
    related = page.get_by_role("region", name="Related")
    assert related.get_by_role("link", name="Ada Lovelace").count() == 1
    assert page.get_by_role("region", name="Similar").get_by_role("link").count() >= 1
    shot(page, "03-asset")

    page.get_by_role("link", name="Turtle").click()  # the formats menu works
    assert "dcat:Dataset" in page.content() or "Dataset" in page.content()


def test_suggestions_by_keyboard(world: World, page: Any) -> None:
    page.goto(world.base + "/")
    box = page.get_by_role("combobox")
    box.click()
    box.press_sequentially("oxford_flo", delay=30)
    listbox = page.get_by_role("listbox", name="Suggestions")
    listbox.wait_for(state="visible")
    option = listbox.get_by_role("option").filter(has_text="oxford_flowers102")
    option.wait_for()
    assert box.get_attribute("aria-expanded") == "true"
    shot(page, "04-suggestions")
    options = listbox.get_by_role("option").all_inner_texts()
    for _ in range(1 + next(i for i, t in enumerate(options) if "oxford_flowers102" in t)):
        box.press("ArrowDown")
    assert box.get_attribute("aria-activedescendant")
    box.press("Enter")
    page.wait_for_url(f"**/datasets/{world.ids['flowers']}")


def test_narrow_by_a_facet_and_page(world: World, page: Any) -> None:
    page.goto(world.base + "/")
    assert len(result_names(page)) == 20  # first page of 31
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Page 2").click()
    page.wait_for_url(re.compile(r"page=2"))
    assert len(result_names(page)) == 31 - 20
    shot(page, "05-page-2")

    page.goto(world.base + "/?q=images")
    licences = page.get_by_role("group", name="Licence")
    with page.expect_navigation():  # a ticked box applies at once
        licences.get_by_label(re.compile(r"^MIT")).click()
    assert "license=https" in page.url
    names = result_names(page)
    assert sorted(names) == ["oxford_flowers102", "plant_village"], names
    assert page.get_by_role("group", name="Licence").get_by_label(re.compile(r"^MIT")).is_checked()
    assert page.get_by_role("list", name="Active filters").get_by_role("link").count() == 1
    focused = page.evaluate("document.activeElement.name")
    assert focused == "license"  # the keyboard position survives the reload
    shot(page, "06-facet")

    with page.expect_navigation():
        page.get_by_role("group", name="Platform").get_by_label(re.compile(r"^zenodo")).click()
    assert "platform=zenodo" in page.url
    assert result_names(page) == ["plant_village"]
    page.get_by_role("link", name=re.compile("Remove filter platform")).click()
    page.wait_for_url(lambda url: "platform=" not in url)
    assert len(result_names(page)) == 2


# --------------------------------------------------------------------------- SPARQL


def test_run_a_sparql_query(world: World, page: Any) -> None:
    page.goto(world.base + "/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="SPARQL").click()
    page.wait_for_url("**/sparql")
    page.get_by_label("SPARQL query").fill(
        "SELECT ?name ?issued WHERE {\n  ?d a dcat:Dataset ; schema:name ?name ;\n"
        '     dct:issued ?issued .\n  FILTER(!STRSTARTS(?name, "Synthetic"))\n}\n'
        "ORDER BY ?name"
    )
    page.get_by_role("button", name="Run query").click()
    page.get_by_role("status").filter(has_text="results").wait_for()
    table = page.locator("#results table")
    assert table.locator("th").all_inner_texts() == ["?name", "?issued"]
    names = table.locator("tbody tr td:first-child").all_inner_texts()
    assert names == sorted(
        ["LibriSpeech", "SQuAD", "oxford_flowers102", "plant_village", "wmt14_translate"]
    )
    shot(page, "07-sparql")


# --------------------------------------------------------------------------- share


INVALID = {
    "name": "Bird songs of Europe",
    "description": {"plain": "Recordings of 120 European bird species."},
    "date_published": "last spring",
    "keyword": ["audio", "birds"],
    "distribution": [{"content_url": "birds.zip", "encoding_format": "application/zip"}],
}


def drop_file(page: Any, selector: str, name: str, text: str, mime: str) -> None:
    """A real drop event carrying a file, as when a file is dragged onto the zone."""
    page.evaluate(
        """([selector, name, text, mime]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([text], name, {type: mime}));
            const zone = document.querySelector(selector);
            zone.dispatchEvent(new DragEvent("dragenter", {dataTransfer: transfer, bubbles: true}));
            zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
        }""",
        [selector, name, text, mime],
    )


def test_share_invalid_then_valid_as_draft(world: World, page: Any) -> None:
    page.goto(world.base + "/share")
    save = page.get_by_role("button", name="Save as draft")
    assert save.is_disabled()
    page.get_by_label("API key or access token").fill(world.user_key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as Grace").wait_for()

    drop_file(page, "#drop", "birds.json", json.dumps(INVALID, indent=2), "application/json")
    report = page.locator("#problems")
    report.wait_for(state="visible")
    rows = {
        r.locator("td").nth(0).locator("code").inner_text(): r.locator("td").nth(1).inner_text()
        for r in report.locator("tbody tr").all()
    }
    assert set(rows) == {"date_published", "distribution[0].content_url"}, rows
    assert "date-time" in rows["date_published"]
    assert "URL" in rows["distribution[0].content_url"]
    assert "2 problems" in page.locator("#summary").inner_text()
    assert save.is_disabled()
    shot(page, "08-share-invalid")

    # "Show" selects the field in the text box
    report.get_by_role("button", name="Show date_published in the text").click()
    selected = page.evaluate(
        "(() => { const t = document.getElementById('content');"
        " return t.value.slice(t.selectionStart, t.selectionEnd); })()"
    )
    assert selected == '"date_published"'

    fixed = json.dumps(
        {
            **INVALID,
            "date_published": "2023-04-01T00:00:00",
            "distribution": [
                {
                    "content_url": "https://example.org/birds.zip",
                    "encoding_format": "application/zip",
                }
            ],
        },
        indent=2,
    )
    page.get_by_role("textbox", name="Content").fill(fixed)
    page.get_by_role("button", name="Check").click()
    page.locator("#summary.ok").wait_for()
    assert "Valid dataset" in page.locator("#summary").inner_text()
    assert report.is_hidden()
    save.click()
    saved = page.locator("#saved-text")
    saved.filter(has_text="Saved as draft").wait_for()
    identifier = re.search(r"data_[A-Za-z0-9]{24}", saved.inner_text())
    assert identifier
    assert save.is_disabled()  # saving the same text again would make a second asset
    shot(page, "09-share-saved")

    # a draft of Grace's: invisible to others, hers through the API
    base = world.base
    assert httpx.get(f"{base}/datasets/{identifier.group(0)}", timeout=30).status_code == 404
    mine = httpx.get(
        f"{base}/datasets/{identifier.group(0)}",
        timeout=30,
        headers={"Authorization": f"Bearer {world.user_key}"},
    )
    assert mine.status_code == 200
    assert mine.json()["aiod_entry"]["status"] == "draft"
    assert mine.json()["name"] == "Bird songs of Europe"

    page.get_by_role("button", name="Submit for review").click()
    page.get_by_text("Submitted for review (status: submitted)").wait_for()
    again = httpx.get(
        f"{base}/datasets/{identifier.group(0)}",
        timeout=30,
        headers={"Authorization": f"Bearer {world.user_key}"},
    )
    assert again.json()["aiod_entry"]["status"] == "submitted"


def test_share_turtle_and_croissant_files(world: World, page: Any) -> None:
    page.goto(world.base + "/share")
    # checking a file reads its body: only a caller who may write gets that far (docs/security.md)
    page.get_by_label("API key or access token").fill(world.user_key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as Grace").wait_for()
    turtle = """@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix schema: <https://schema.org/> .
@prefix dct: <http://purl.org/dc/terms/> .
<https://example.org/ds/1> a dcat:Dataset ;
  schema:name "Turtle dataset" ;
  dct:issued "not a date" .
"""
    drop_file(page, "#drop", "dataset.ttl", turtle, "text/turtle")
    page.locator("#summary.fail").wait_for()
    assert page.locator("#file-name").inner_text().endswith("turtle")
    assert page.locator("#problems tbody td code").all_inner_texts() == ["date_published"]
    page.get_by_role("button", name="Show date_published in the text").click()
    selected = page.evaluate(
        "(() => { const t = document.getElementById('content');"
        " return t.value.slice(t.selectionStart, t.selectionEnd); })()"
    )
    assert selected == "dct:issued"  # the field's predicate in the Turtle
    shot(page, "10-share-turtle")

    croissant = {
        "@context": {
            "@vocab": "https://schema.org/",
            "cr": "http://mlcommons.org/croissant/",
            "dct": "http://purl.org/dc/terms/",
            "conformsTo": "dct:conformsTo",
        },
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.1",
        "name": "croissant_birds",
        "description": "Bird songs, described in Croissant.",
        "url": "https://example.org/croissant_birds",
        "license": "https://creativecommons.org/licenses/by/4.0/",
    }
    page.get_by_label("Type of resource").select_option("publications")
    drop_file(page, "#drop", "metadata.json", json.dumps(croissant), "application/json")
    page.locator("#summary.ok").wait_for()
    assert "Croissant" in page.locator("#summary").inner_text()
    assert page.get_by_label("Type of resource").input_value() == "datasets"
    page.get_by_text("What the catalog read from the file").click()
    assert '"croissant_birds"' in page.locator("#record").inner_text()


def test_share_wrong_key_is_refused(world: World, page: Any) -> None:
    EXPECTED_ERRORS[id(page)] = ("401 (Unauthorized)",)
    page.goto(world.base + "/share")
    page.get_by_label("API key or access token").fill("aiodkg_nope_nothing")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Sign-in failed (401)").wait_for()
    assert page.get_by_role("button", name="Save as draft").is_disabled()


# --------------------------------------------------------------------------- a11y, weight


def test_keyboard_labels_and_weight(world: World, page: Any) -> None:
    responses: list[Any] = []
    page.on("response", lambda r: responses.append(r))
    page.goto(world.base + "/")
    page.wait_for_load_state("networkidle")
    weight = sum(len(r.body()) for r in responses if r.ok)
    assert weight < 200_000, weight  # the whole first page: HTML, styles, scripts, icon
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    for path in ("/", "/share", f"/datasets/{world.ids['flowers']}"):
        page.goto(world.base + path)
        unlabelled = page.evaluate(
            """Array.from(document.querySelectorAll('input, select, textarea'))
                .filter(e => e.type !== 'hidden')
                .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                             && !e.getAttribute('aria-labelledby'))
                .map(e => e.id || e.name)"""
        )
        assert unlabelled == [], (path, unlabelled)
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.locator("h1").count() == 1


def test_share_then_attach_files(world: World, page: Any) -> None:
    """After saving a draft the owner attaches files from the share page: one multipart form
    POST to /{type}/{id}/files; each file becomes a distribution, invisible like the draft."""
    page.goto(world.base + "/share")
    assert page.locator("#files-form").is_hidden()
    page.get_by_label("API key or access token").fill(world.user_key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as Grace").wait_for()
    record = {
        "name": "Frog calls with files",
        "description": {"plain": "Recordings of frogs, with the recordings attached."},
        "keyword": ["audio", "frogs"],
    }
    drop_file(page, "#drop", "frogs.json", json.dumps(record), "application/json")
    page.locator("#summary.ok").wait_for()
    page.get_by_role("button", name="Save as draft").click()
    saved = page.locator("#saved-text")
    saved.filter(has_text="Saved as draft").wait_for()
    found = re.search(r"data_[A-Za-z0-9]{24}", saved.inner_text())
    assert found
    identifier = found.group(0)

    audio = bytes(range(256)) * (12 * 1024)  # 3 MiB
    table = b"file,species\nf1.wav,Rana temporaria\n"
    page.get_by_label("Files", exact=True).set_input_files(
        [
            {"name": "calls.bin", "mimeType": "application/octet-stream", "buffer": audio},
            {"name": "espèces.csv", "mimeType": "text/csv", "buffer": table},
        ]
    )
    page.get_by_role("button", name="Upload").click()
    page.locator("#upload-status").filter(has_text="Attached 2 files").wait_for()
    items = page.locator("#attached li")
    assert items.count() == 2
    assert "calls.bin" in items.nth(0).inner_text() and "3.0 MiB" in items.nth(0).inner_text()
    assert items.nth(1).get_attribute("data-sha256") == hashlib.sha256(table).hexdigest()
    shot(page, "14-share-files-attached")

    grace = {"Authorization": f"Bearer {world.user_key}"}
    base = f"{world.base}/datasets/{identifier}"
    listed = httpx.get(f"{base}/files", headers=grace, timeout=30).json()
    assert sorted((f["name"], f["sha256"]) for f in listed) == sorted(
        [
            ("calls.bin", hashlib.sha256(audio).hexdigest()),
            ("espèces.csv", hashlib.sha256(table).hexdigest()),
        ]
    )
    got = httpx.get(f"{base}/files/calls.bin", headers=grace, timeout=30)
    assert got.status_code == 200 and got.content == audio
    distributions = httpx.get(base, headers=grace, timeout=30).json()["distribution"]
    assert {d["name"] for d in distributions} == {"calls.bin", "espèces.csv"}
    # the draft's files are invisible to anyone else, like the draft
    assert httpx.get(f"{base}/files/calls.bin", timeout=30).status_code == 404

    # a refused upload says why, in the page (a name the catalog refuses)
    page.get_by_label("Files", exact=True).set_input_files(
        [{"name": " lead.txt", "mimeType": "text/plain", "buffer": b"x"}]
    )
    page.get_by_role("button", name="Upload").click()
    page.locator("#upload-status.bad").filter(has_text="Not uploaded (400)").wait_for()
    EXPECTED_ERRORS[id(page)] = ("400",)
