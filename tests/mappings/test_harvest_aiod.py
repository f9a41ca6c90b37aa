"""The universal connector (mappings/aiod.py): any AIoD REST API v2, replayed from recorded-style
pages (tests/data/aiod) and a second live aiod-kg."""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import orjson
import pytest

from api.demo.replay import ReplayData, ReplayServer
from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from kg.settings import Settings
from mappings.aiod import AiodConnector, collection_of
from tests.support.data import ADMIN_KEY, AUTH, DATA, REPO
from tests.support.harvest import find, harvester
from tests.support.server import running_server

PAGES = DATA / "aiod" / "v2"
MIRROR_BASE = "http://127.0.0.1:9"


class AiodReplay(ReplayServer):
    """A loopback AIoD REST API v2: ``/v2/{collection}`` lists sliced by offset / limit and
    filtered by ``date_modified_after``; ``/v2/{collection}/{identifier}`` one record."""

    def __init__(self) -> None:
        super().__init__(ReplayData())
        self.records: dict[str, list[dict[str, Any]]] = {
            path.stem: json.loads(path.read_text(encoding="utf-8")) for path in PAGES.glob("*.json")
        }

    def __enter__(self) -> AiodReplay:
        self.start()
        return self

    def handle(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        with self.lock:
            self.requests.append(path + "?" + "&".join(f"{k}={v}" for k, v in query.items()))
            if len(parts) < 2 or parts[0] != "v2" or parts[1] not in self.records:
                return 404, {"Content-Type": "application/json"}, b'{"detail":"Not found"}'
            records = self.records[parts[1]]
            if len(parts) == 3:
                found = [r for r in records if r["identifier"] == parts[2]]
                if not found:
                    return 404, {"Content-Type": "application/json"}, b'{"detail":"Not found"}'
                return 200, {"Content-Type": "application/json"}, orjson.dumps(found[0])
            after = query.get("date_modified_after")
            if after:
                records = [r for r in records if r["aiod_entry"]["date_modified"] > after]
            offset, limit = int(query.get("offset", "0")), int(query.get("limit", "10"))
            page = records[offset : offset + limit]
        return 200, {"Content-Type": "application/json"}, orjson.dumps(page)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def test_identifiers_name_their_asset_type() -> None:
    assert collection_of("prsn_n0PRebGuARI8KLaGPAVFnIrh") == "persons"
    assert collection_of("data_Examp1eDataset0000000001") == "datasets"
    assert collection_of(42) is None and collection_of("xyz_short") is None


def test_harvest_replayed_aiod_api(catalog: Catalog) -> None:
    with AiodReplay() as server:
        connector = AiodConnector(f"{server.url}/v2", page_size=1)
        report = harvester(catalog).run(connector)
        requests = list(server.requests)
        again = harvester(catalog).run(AiodConnector(f"{server.url}/v2", page_size=1))
    assert report.completed, report.summary()
    # listed page by page (limit 1), every collection; a missing one (404) is skipped
    assert any("/v2/datasets?limit=1&offset=1" in r for r in requests)
    assert any(r.startswith("/v2/ml_models?") for r in requests)
    assert report.counts["datasets"]["created"] == 2
    # a record from another platform keeps its identity there
    example = find(catalog, "datasets", "example", "1")
    assert example["name"] == "The name of this dataset"
    assert example["distribution"][0]["content_url"] == "https://www.example.com/dataset/file.csv"
    (creator,) = example["creator"]
    arthur = catalog.get(ASSET_TYPES["persons"], creator)
    # a record native to the API: platform "aiod", its AIoD identifier
    assert (arthur["platform"], arthur["platform_resource_identifier"]) == (
        "aiod",
        "prsn_n0PRebGuARI8KLaGPAVFnIrh",
    )
    assert arthur["name"] == "Arthur Dent"
    (funder,) = example["funder"]
    assert catalog.get(ASSET_TYPES["organisations"], funder)["legal_name"] == (
        "The legal Organisation Name"
    )
    native = find(catalog, "datasets", "aiod", "data_Nat1veDataset00000000002")
    (jane,) = native["creator"]  # the dangling reference is dropped
    assert catalog.get(ASSET_TYPES["persons"], jane)["name"] == "Jane Doe"
    assert "unknown_upstream_field" not in native
    assert native["identifier"] != "data_Nat1veDataset00000000002"  # aiod-kg's own identifier
    # a second run changes nothing
    assert again.completed and again.counts["datasets"].get("unchanged") == 2
    assert not again.counts["datasets"].get("updated")


def test_incremental_run_and_deletion_by_comparison(catalog: Catalog) -> None:
    with AiodReplay() as server:
        url = f"{server.url}/v2"
        assert harvester(catalog).run(AiodConnector(url)).completed
        datasets = server.records["datasets"]
        datasets[1] = {
            **datasets[1],
            "name": "Air quality sensors, Lisbon 2024 (v2)",
            "aiod_entry": {**datasets[1]["aiod_entry"], "date_modified": _now()},
        }
        server.requests.clear()
        since = harvester(catalog).run(AiodConnector(url), since="auto")
        assert since.since is not None and since.completed
        assert all("date_modified_after=" in r for r in server.requests if "limit=" in r)
        assert since.counts["datasets"]["updated"] == 1
        native = find(catalog, "datasets", "aiod", "data_Nat1veDataset00000000002")
        assert native["name"].endswith("(v2)")
        del datasets[0]  # the central deleted the example dataset
        full = harvester(catalog).run(AiodConnector(url))
    assert full.completed and full.counts["datasets"]["deleted"] == 1
    assert catalog.index.find_platform("datasets", "example", "1") is None
    assert catalog.index.find_platform("datasets", "aiod", "data_Nat1veDataset00000000002")


def test_own_platform_records_are_skipped(catalog: Catalog) -> None:
    with AiodReplay() as server:
        connector = AiodConnector(f"{server.url}/v2", own_platform="example")
        report = harvester(catalog).run(connector)
    assert report.completed
    assert catalog.index.find_platform("datasets", "example", "1") is None
    assert catalog.index.find_platform("datasets", "aiod", "data_Nat1veDataset00000000002")


def _open(store: Path) -> Catalog:
    return Catalog(Settings(store=str(store), admin_key=ADMIN_KEY, base_url=MIRROR_BASE))


def _harvest(store: Path, base_url: str, *args: str) -> dict[str, Any]:
    """``aiod-kg harvest aiod`` into ``store``, as an operator runs it."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "api.cli",
            "harvest",
            "aiod",
            "--base-url",
            base_url,
            "--json",
            *args,
        ],
        cwd=REPO,
        env={
            "PATH": "/usr/bin:/bin",
            "AIOD_KG_STORE": str(store),
            "AIOD_KG_ADMIN_KEY": ADMIN_KEY,
            "AIOD_KG_BASE_URL": MIRROR_BASE,
            "AIOD_KG_AIOD_PLATFORM": "node-a",
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


@pytest.mark.slow
def test_mirror_a_live_aiod_kg(tmp_path: Path) -> None:
    """Node B harvests aiod-kg A through its REST API; edits and deletions in A follow."""
    mirror = tmp_path / "b"
    with running_server(tmp_path / "a") as a, httpx.Client(base_url=a.base_url) as http:
        person = http.post("/v2/persons", json={"name": "Ada Lovelace"}, headers=AUTH).json()
        first = http.post(
            "/v2/datasets",
            json={"name": "Node dataset one", "creator": [person["identifier"]]},
            headers=AUTH,
        ).json()["identifier"]
        second = http.post(
            "/v2/datasets",
            json={
                "name": "Node dataset two",
                "platform": "zenodo",
                "platform_resource_identifier": "7",
            },
            headers=AUTH,
        ).json()["identifier"]
        report = _harvest(mirror, f"{a.base_url}/v2")
        assert report["completed"], report
        with closing(_open(mirror)) as b:
            one = b.by_platform(ASSET_TYPES["datasets"], "node-a", first)
            assert one["name"] == "Node dataset one"
            (ada,) = one["creator"]
            assert b.get(ASSET_TYPES["persons"], ada)["name"] == "Ada Lovelace"
            assert b.by_platform(ASSET_TYPES["datasets"], "zenodo", "7")["name"] == (
                "Node dataset two"
            )
        edited = http.put(
            f"/v2/datasets/{first}", json={"name": "Node dataset one, edited"}, headers=AUTH
        )
        assert edited.status_code == 200, edited.text
        assert http.delete(f"/v2/datasets/{second}", headers=AUTH).status_code == 200
        again = _harvest(mirror, f"{a.base_url}/v2")  # incremental: the edit
        assert again["completed"] and again["since"], again
        with closing(_open(mirror)) as b:
            assert b.by_platform(ASSET_TYPES["datasets"], "node-a", first)["name"].endswith("ed")
        full = _harvest(mirror, f"{a.base_url}/v2", "--full")  # complete listing: the deletion
        assert full["completed"], full
    with closing(_open(mirror)) as b:
        assert b.by_platform(ASSET_TYPES["datasets"], "node-a", first)["name"].endswith("edited")
        assert b.index.find_platform("datasets", "zenodo", "7") is None
