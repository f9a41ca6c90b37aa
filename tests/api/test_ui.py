"""The web UI's server side (no browser): pages, headers, weight, suggestions, the share page's
validation report, asset pages of drafts and references, escaping, contrast of the colours."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.ui.templating import STATIC, humanize, license_label, short_date
from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from kg.settings import Settings
from tests.support.data import AUTH
from tests.support.ui_data import DATASETS, dataset

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
MARK = "SECRET-DRAFT-MARK"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = Settings(
        store=str(tmp_path_factory.mktemp("ui") / "store"),
        admin_key="test-admin-key",
        base_url="http://127.0.0.1:8000",
    )
    catalog = Catalog(settings)
    with TestClient(create_app(settings, catalog), raise_server_exceptions=False) as client:
        ids: dict[str, str] = {}
        person = client.post(
            "/persons",
            headers=AUTH,
            json={"name": "Ada Lovelace", "aiod_entry": {"status": "published"}},
        ).json()
        ids["person"] = person["identifier"]
        hidden = client.post(
            "/persons",
            headers=AUTH,
            json={"name": f"Hidden {MARK}", "aiod_entry": {"status": "draft"}},
        ).json()
        ids["hidden"] = hidden["identifier"]
        for row in DATASETS:
            record = dataset(*row, creator=ids["person"])
            record["creator"].append(ids["hidden"])
            ids[row[0]] = client.post("/datasets", headers=AUTH, json=record).json()["identifier"]
        draft = dataset(
            "draft",
            f"Draft dataset {MARK}",
            f"Not public {MARK}",
            [f"kw-{MARK.lower()}"],
            "https://opensource.org/licenses/MIT",
            "2020-01-01T00:00:00",
            "example",
        )
        draft["aiod_entry"] = {"status": "draft"}
        ids["draft"] = client.post("/datasets", headers=AUTH, json=draft).json()["identifier"]
        assert client.app.state.search.flush(120)  # type: ignore[attr-defined]
        yield client, ids
    catalog.close()


def html(response: Any) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    text: str = response.text
    return text


def assets_of(page: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/ui/static/[^"?]+)', page)


# --------------------------------------------------------------------------- pages


@pytest.mark.parametrize("path", ["/", "/?q=image", "/share", "flowers"])
def test_pages_are_light_and_locked_down(
    world: tuple[TestClient, dict[str, str]], path: str
) -> None:
    client, ids = world
    if not path.startswith("/"):
        path = f"/datasets/{ids[path]}"
    response = client.get(path, headers=BROWSER)
    page = html(response)
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "<script>" not in page  # no inline scripts (JSON-LD data blocks only)
    weight = len(response.content)
    for asset in assets_of(page):
        got = client.get(asset)
        assert got.status_code == 200
        weight += len(got.content)
    assert weight < 200_000, weight
    assert 'lang="en"' in page and 'href="#main"' in page
    # nothing from elsewhere: every script, style and icon is the server's own
    for url in re.findall(r'<(?:script|img)[^>]* src="([^"]*)"', page) + re.findall(
        r'<link rel="(?:stylesheet|icon)" href="([^"]*)"', page
    ):
        assert url.startswith("/"), url


def test_favicon_and_static_files(world: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = world
    assert client.get("/favicon.ico").headers["content-type"].startswith("image/svg+xml")
    for path in STATIC.iterdir():
        assert client.get(f"/ui/static/{path.name}").status_code == 200
    assert client.get("/ui/static/../templating.py").status_code == 404


def test_search_page_results_facets_paging(world: tuple[TestClient, dict[str, str]]) -> None:
    client, ids = world
    page = html(client.get("/", params={"q": "flower photographs"}))
    first = re.search(r'<ol class="hits".*?<h3><a href="([^"]+)">([^<]+)</a>', page, re.S)
    assert first and first.group(2) == "oxford_flowers102"
    assert first.group(1) == f"/datasets/{ids['flowers']}"
    assert "<em>flower</em>" in page  # highlighted
    for facet in ("Type", "Platform", "Licence", "Keyword", "Published"):
        assert f"<legend>{facet}</legend>" in page

    narrowed = html(
        client.get("/", params={"q": "images", "license": "https://opensource.org/licenses/MIT"})
    )
    names = re.findall(r'<h3><a href="[^"]+">([^<]+)</a>', narrowed)
    assert sorted(names) == ["oxford_flowers102", "plant_village"]
    assert re.search(r'value="https://opensource.org/licenses/MIT" checked', narrowed)
    assert "Remove filter license" in narrowed

    dated = html(client.get("/", params={"date_from": "2015-01-01", "type": "datasets"}))
    names = re.findall(r'<h3><a href="[^"]+">([^<]+)</a>', dated)
    assert sorted(names) == ["LibriSpeech", "SQuAD", "plant_village"]
    # nonsense parameters never fail the page
    assert html(client.get("/", params={"date_from": "yesterday", "type": "nothing", "page": "7"}))
    assert client.get("/", params={"page": "0"}).status_code == 422


def test_query_text_is_escaped(world: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = world
    page = html(client.get("/", params={"q": '"><script>alert(1)</script>'}))
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)" in page


def test_drafts_never_reach_the_ui(world: tuple[TestClient, dict[str, str]]) -> None:
    client, ids = world
    for path in (
        "/",
        "/?q=secret+draft",
        "/?q=draft+dataset",
        "/?keyword=image",
        f"/ui/suggest?q={MARK[:6]}",
        "/ui/suggest?q=draft",
        "/ui/suggest?q=kw-",
        f"/datasets/{ids['flowers']}",
    ):
        got = client.get(path, headers=BROWSER)
        assert got.status_code == 200
        assert MARK not in got.text and MARK.lower() not in got.text, path
    home = html(client.get("/"))
    assert "6 public assets" in home  # one person, five datasets
    # a draft's page: 404 for others, the owner sees it with a notice
    assert client.get(f"/datasets/{ids['draft']}", headers=BROWSER).status_code == 404
    own = html(client.get(f"/datasets/{ids['draft']}", headers={**BROWSER, **AUTH}))
    assert "is <strong>draft</strong>" in own
    assert 'aria-labelledby="similar-h"' not in own


def test_suggestions(world: tuple[TestClient, dict[str, str]]) -> None:
    client, ids = world
    body = client.get("/ui/suggest", params={"q": "oxford_flo"}).json()
    assets = [s for s in body["suggestions"] if s["kind"] == "asset"]
    assert assets[0]["label"] == "oxford_flowers102"
    assert assets[0]["url"] == f"/datasets/{ids['flowers']}"
    keywords = client.get("/ui/suggest", params={"q": "image-cl"}).json()["suggestions"]
    assert keywords[0] == {
        "kind": "keyword",
        "label": "image-classification",
        "count": 2,
        "url": "/?keyword=image-classification",
    }
    speech = client.get("/ui/suggest", params={"q": "speech recog"}).json()["suggestions"]
    assert any(s["label"] == "LibriSpeech" for s in speech) or any(
        s["label"] == "speech-recognition" for s in speech
    )
    assert client.get("/ui/suggest", params={"q": ""}).json()["suggestions"] == []
    assert client.get("/ui/suggest", params={"q": "zzzzqqq"}).json()["suggestions"] == []
    assert client.get("/ui/suggest", params={"q": "(((["}).json()["suggestions"] == []


# --------------------------------------------------------------------------- asset page


def test_asset_page_fields_references_downloads(world: tuple[TestClient, dict[str, str]]) -> None:
    client, ids = world
    page = html(client.get(f"/datasets/{ids['flowers']}", headers=BROWSER))
    assert "<h1>oxford_flowers102</h1>" in page
    # every field that has a value
    for label in (
        "Platform",
        "Platform resource identifier",
        "Same as",
        "Keyword",
        "Creator",
        "Date published",
        "License",
    ):
        assert f'<th scope="row">{label}</th>' in page, label
    assert f'<a href="/persons/{ids["person"]}">Ada Lovelace</a>' in page
    assert ids["hidden"] in page and "Hidden" not in page  # a draft's name never shows
    assert '<a href="https://example.org/files/flowers.zip" rel="nofollow">flowers.zip</a>' in page
    assert "2,048 KB" in page
    assert '<a href="/?keyword=image-classification">' in page
    for fmt in ("json", "jsonld", "turtle", "rdfxml", "ntriples", "croissant"):
        assert f"/datasets/{ids['flowers']}?format={fmt}" in page
    assert 'aria-labelledby="similar-h"' in page
    person = html(client.get(f"/persons/{ids['person']}", headers=BROWSER))
    assert "?format=croissant" not in person


# --------------------------------------------------------------------------- validation


def report(
    client: TestClient, body: str | bytes, media: str = "application/json", asset: str = "datasets"
) -> dict[str, Any]:
    response = client.post(
        f"/ui/validate/{asset}", content=body, headers={**AUTH, "Content-Type": media}
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def test_validation_report(world: tuple[TestClient, dict[str, str]]) -> None:
    client, ids = world
    ok = report(client, '{"name": "fine"}')
    assert ok["valid"] and ok["problems"] == [] and ok["record"] == {"name": "fine"}

    bad = report(
        client,
        '{"name": "x", "date_published": "soon", "keyword": "one",'
        ' "distribution": [{"content_url": "nope"}]}',
    )
    assert not bad["valid"]
    problems = {p["field"]: p for p in bad["problems"]}
    assert set(problems) == {"date_published", "keyword", "distribution[0].content_url"}
    assert problems["date_published"]["predicate"] == "dct:issued"
    assert problems["distribution[0].content_url"]["predicate"] == "dcat:downloadURL"
    assert problems["keyword"]["value"] == "one"

    broken = report(client, '{"name": "x",\n  "keyword": [}')
    (problem,) = broken["problems"]
    assert problem["line"] == 2 and problem["column"] and "JSON" in problem["message"]
    turtle = report(client, "<a> <b> .", "text/turtle")
    assert turtle["problems"][0]["line"] == 1

    same = report(
        client, '{"name": "dup", "platform": "openml", "platform_resource_identifier": "speech"}'
    )
    assert not same["valid"] and same["conflict"] == ids["speech"]

    croissant = report(
        client,
        '{"@context": {"@vocab": "https://schema.org/"}, '
        '"@type": "sc:Dataset", "name": "cr", '
        '"conformsTo": "http://mlcommons.org/croissant/1.1"}',
        "application/ld+json",
        asset="ml_models",
    )
    assert croissant["valid"] and croissant["croissant"] and croissant["type"] == "datasets"

    assert (
        client.post(
            "/ui/validate/datasets", content="x", headers={"Content-Type": "image/png"}
        ).status_code
        == 415
    )
    assert client.post("/ui/validate/nothing", content="{}").status_code == 404
    # like POST /{type}: no credentials, no reading of the body
    assert client.post("/ui/validate/datasets", content="{}").status_code == 401
    # nothing was written
    assert client.get("/counts/datasets", headers=AUTH).json() == 6


def test_share_page_explains_sign_in(world: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = world
    page = html(client.get("/share"))
    assert 'for="token"' in page and "session storage" in page
    for name in ASSET_TYPES:
        assert f'<option value="{name}"' in page
    assert 'id="drop"' in page and 'type="file"' in page


# --------------------------------------------------------------------------- helpers, colours


def test_labels() -> None:
    assert humanize("date_published") == "Date published"
    assert humanize("ml_models") == "ML models"
    assert license_label("https://creativecommons.org/licenses/by/4.0/") == "CC BY 4.0"
    assert license_label("https://creativecommons.org/licenses/by-nc-sa/4.0/") == (
        "CC BY-NC-SA 4.0"
    )
    assert license_label("https://creativecommons.org/publicdomain/zero/1.0/") == "CC0 1.0"
    assert license_label("https://spdx.org/licenses/Apache-2.0.html") == "Apache-2.0"
    assert license_label("https://opensource.org/licenses/MIT") == "MIT"
    assert license_label("https://example.org/my/licence") == "example.org/my/licence"
    assert short_date("2014-04-06T23:19:24") == "2014-04-06"


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    a, b = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def test_colours_meet_wcag_aa() -> None:
    css = (Path(STATIC) / "ui.css").read_text()
    var = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6})", css))
    pairs = [
        ("ink", "bg"),
        ("ink", "card"),
        ("muted", "bg"),
        ("muted", "card"),
        ("link", "bg"),
        ("link", "card"),
        ("brand", "card"),
        ("warn", "warn-bg"),
        ("bad", "bad-bg"),
        ("bad", "card"),
    ]
    for fg, bg in pairs:
        assert contrast(var[fg], var[bg]) >= 4.5, (fg, bg, contrast(var[fg], var[bg]))
    assert contrast("#ffffff", var["brand"]) >= 4.5  # header text, buttons
    assert contrast("#ffffff", var["link"]) >= 4.5
