"""Dereferenceable IRIs: content negotiation, landing pages, conditional GETs, Croissant."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from fastapi.testclient import TestClient
from rdflib import Graph

from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from tests.support.data import AUTH, REPO, STANDARDS, example_records
from tests.support.server import LiveServer

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
CROISSANT_DIR = STANDARDS / "croissant" / "examples"
CROISSANT_EXAMPLES = sorted(CROISSANT_DIR.glob("*/*/metadata.json"))
CROISSANT_MEDIA = 'application/ld+json; profile="http://mlcommons.org/croissant/1.1"'


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.jsonld: list[str] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._inside = tag == "script" and ("type", "application/ld+json") in attrs

    def handle_endtag(self, tag: str) -> None:
        self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.jsonld.append(data)


def embedded_jsonld(html: str) -> dict[str, Any]:
    parser = _Scripts()
    parser.feed(html)
    (script,) = parser.jsonld
    document: dict[str, Any] = json.loads(script)
    return document


@pytest.fixture
def dataset(catalog: Catalog) -> str:
    person = catalog.save_many(
        ASSET_TYPES["persons"],
        [
            {
                "name": "Ada <Lovelace>",
                "platform": "example",
                "platform_resource_identifier": "p1",
                "aiod_entry": {"status": "published"},
            }
        ],
    )[0].identifier
    record = example_records("datasets")[0]
    record["aiod_entry"] = {"status": "published"}
    record["creator"] = [person]
    record["name"] = "Dataset </script><script>alert(1)</script>"
    return catalog.create(ASSET_TYPES["datasets"], record)


def test_browsers_get_a_landing_page_with_schema_org(client: TestClient, dataset: str) -> None:
    response = client.get(f"/datasets/{dataset}", headers={"Accept": BROWSER})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Accept" in response.headers["vary"]
    html = response.text
    assert "<script>alert(1)</script>" not in html  # escaped everywhere, also in the JSON-LD
    document = embedded_jsonld(html)
    assert document["@type"] == "Dataset"
    assert document["@id"] == f"http://127.0.0.1:8000/datasets/{dataset}"
    assert document["name"].startswith("Dataset </script>")
    assert document["creator"][0]["name"] == "Ada <Lovelace>"
    assert document["distribution"][0]["contentUrl"] == "https://www.example.com/dataset/file.csv"
    assert document["license"].startswith("https://creativecommons.org/")
    assert "includedInDataCatalog" in document
    for fmt in ("jsonld", "turtle", "rdfxml", "ntriples", "croissant"):
        assert f"?format={fmt}" in html


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Accept": "*/*"},
        {"Accept": "application/json"},
        {"Accept": "application/json, */*;q=0.5"},
    ],
)
def test_machines_keep_getting_json(
    client: TestClient, dataset: str, headers: dict[str, str]
) -> None:
    response = client.get(f"/datasets/{dataset}", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["identifier"] == dataset
    assert "Accept" in response.headers["vary"]


@pytest.mark.parametrize(
    "accept,fmt,media",
    [
        ("text/turtle", "turtle", "text/turtle"),
        ("application/rdf+xml", "xml", "application/rdf+xml"),
        ("application/n-triples", "nt", "application/n-triples"),
        ("application/ld+json", "json-ld", "application/ld+json"),
    ],
)
def test_rdf_by_accept_and_format(
    client: TestClient, dataset: str, accept: str, fmt: str, media: str
) -> None:
    response = client.get(f"/datasets/{dataset}", headers={"Accept": accept})
    assert response.headers["content-type"].startswith(media)
    graph = Graph().parse(data=response.content, format=fmt, publicID="http://127.0.0.1:8000/")
    assert len(graph) > 20
    # ?format= beats Accept, even a browser's
    name = {"xml": "rdfxml", "nt": "ntriples", "json-ld": "jsonld"}.get(fmt, fmt)
    again = client.get(f"/datasets/{dataset}?format={name}", headers={"Accept": BROWSER})
    assert again.headers["content-type"].startswith(media)
    assert (
        client.get(f"/datasets/{dataset}?format=html")
        .headers["content-type"]
        .startswith("text/html")
    )
    assert client.get(f"/datasets/{dataset}", headers={"Accept": "image/png"}).status_code == 406


def test_etag_last_modified_and_304(
    client: TestClient, catalog: Catalog, dataset: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"/datasets/{dataset}"
    for headers in (
        {},
        {"Accept": BROWSER},
        {"Accept": "text/turtle"},
        {"Accept": CROISSANT_MEDIA},
    ):
        first = client.get(url, headers=headers)
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        assert etag.startswith('"') and modified.endswith("GMT")
        again = client.get(url, headers={**headers, "If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        since = client.get(url, headers={**headers, "If-Modified-Since": modified})
        assert since.status_code == 304
        assert client.get(url, headers={**headers, "If-None-Match": '"other"'}).status_code == 200
    formats = {
        client.get(url, headers={"Accept": a}).headers["etag"]
        for a in ("text/turtle", "text/html", "application/json")
    }
    assert len(formats) == 3  # one ETag per representation
    before = client.get(url).headers["etag"]
    monkeypatch.setattr("kg.catalog.now", lambda: "2099-01-01T00:00:00")
    record = catalog.get(ASSET_TYPES["datasets"], dataset)
    record["version"] = "2.0"
    catalog.replace(ASSET_TYPES["datasets"], dataset, record)
    changed = client.get(url, headers={"If-None-Match": before})
    assert changed.status_code == 200 and changed.headers["etag"] != before
    assert changed.headers["last-modified"] == "Thu, 01 Jan 2099 00:00:00 GMT"


def test_croissant_export_loads_in_mlcroissant(client: TestClient, dataset: str) -> None:
    import mlcroissant

    by_format = client.get(f"/datasets/{dataset}?format=croissant")
    by_profile = client.get(f"/datasets/{dataset}", headers={"Accept": CROISSANT_MEDIA})
    assert by_format.status_code == by_profile.status_code == 200
    assert by_profile.headers["content-type"].startswith("application/ld+json")
    assert "croissant" in by_profile.headers["content-type"]
    document = by_profile.json()
    assert document["conformsTo"] == "http://mlcommons.org/croissant/1.1"
    loaded = mlcroissant.Dataset(jsonld=document)
    assert loaded.metadata.name.startswith("Dataset </script>")
    assert [d.content_url for d in loaded.metadata.distribution] == [
        "https://www.example.com/dataset/file.csv"
    ]
    # not for other types; the profile alone falls back to JSON-LD there
    model = client.get("/ml_models")
    assert model.status_code == 200


def test_croissant_not_offered_for_other_types(client: TestClient, catalog: Catalog) -> None:
    record = example_records("ml_models")[0]
    record["aiod_entry"] = {"status": "published"}
    identifier = catalog.create(ASSET_TYPES["ml_models"], record)
    assert client.get(f"/ml_models/{identifier}?format=croissant").status_code == 400
    response = client.get(f"/ml_models/{identifier}", headers={"Accept": CROISSANT_MEDIA})
    assert response.headers["content-type"].startswith("application/ld+json")
    assert "croissant" not in response.headers["content-type"]


@pytest.mark.parametrize("path", CROISSANT_EXAMPLES, ids=lambda p: p.parent.name)
def test_official_croissant_examples_import_by_post(client: TestClient, path: Path) -> None:
    import mlcroissant

    source = json.loads(path.read_text(encoding="utf-8"))
    response = client.post(
        "/datasets", content=path.read_bytes(), headers={**AUTH, "Content-Type": CROISSANT_MEDIA}
    )
    assert response.status_code == 200, response.text
    identifier = response.json()["identifier"]
    stored = client.get(f"/datasets/{identifier}").json()
    assert stored["name"] == source["name"]
    assert stored["same_as"] == source["url"]
    assert stored.get("license", "").startswith("http")
    files = [
        d
        for d in source["distribution"]
        if "FileObject" in str(d["@type"]) and d["contentUrl"].startswith("http")
    ]  # relative paths point nowhere
    assert len(stored.get("distribution", [])) == len(files)
    # and back out: our Croissant of the imported dataset loads in mlcroissant
    exported = client.get(f"/datasets/{identifier}?format=croissant").json()
    assert mlcroissant.Dataset(jsonld=exported).metadata.name == source["name"]
    # importing the same file again updates nothing new: same platform id -> conflict on POST
    again = client.post(
        "/datasets", content=path.read_bytes(), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert again.status_code == 409


def test_official_croissant_examples_import_by_cli(tmp_path: Path) -> None:
    env_store = tmp_path / "cli-store"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "api.cli.main",
            "import",
            "--store",
            str(env_store),
            *map(str, CROISSANT_EXAMPLES),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("data_") == len(CROISSANT_EXAMPLES)


def test_live_server_sdk_and_curl_get_json(live_server: LiveServer) -> None:
    """Real HTTP: requests (what the AIoD SDK uses) and curl get JSON, browsers get HTML."""
    base = live_server.base_url
    record = example_records("datasets")[0]
    record["aiod_entry"] = {"status": "published"}
    created = httpx.post(f"{base}/datasets", json=record, headers=AUTH, timeout=30)
    assert created.status_code == 200, created.text
    url = f"{base}/datasets/{created.json()['identifier']}"
    sdk = requests.get(url, timeout=30)
    assert sdk.headers["content-type"] == "application/json"
    assert sdk.json()["name"] == record["name"]
    if shutil.which("curl"):
        out = subprocess.run(
            ["curl", "-s", "-D", "-", url], capture_output=True, text=True, timeout=30, check=True
        ).stdout
        assert "content-type: application/json" in out.lower()
    browser = requests.get(url, headers={"Accept": BROWSER}, timeout=30)
    assert browser.headers["content-type"].startswith("text/html")
    etag = browser.headers["etag"]
    assert (
        requests.get(
            url, headers={"Accept": BROWSER, "If-None-Match": etag}, timeout=30
        ).status_code
        == 304
    )
