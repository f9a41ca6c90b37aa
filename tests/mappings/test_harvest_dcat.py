"""DCAT-AP connector: Hydra-paged Turtle, JSON-LD and RDF/XML pages (tests/harvest_data/dcat)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from api.demo.replay import ReplayData, ReplayServer
from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from mappings.dcat import DcatConnector
from tests.support.harvest import find, harvester
from tests.support.server import running_server

DATA = Path(__file__).resolve().parent / "harvest_data" / "dcat"
TYPES = {".ttl": "text/turtle", ".jsonld": "application/ld+json", ".rdf": "application/rdf+xml"}
DATASETS = ASSET_TYPES["datasets"]


def serve_pages(server: ReplayServer, prefix: str = "/portal") -> str:
    """Serve every file of tests/harvest_data/dcat under ``prefix``; returns its URL."""
    base = server.url + prefix
    for path in DATA.iterdir():
        body = path.read_text(encoding="utf-8").replace("{BASE}", base).encode()
        server.data.static[f"{prefix}/{path.name}"] = (TYPES[path.suffix], body)
    return base


def connector(url: str, catalog: Catalog) -> DcatConnector:
    return DcatConnector(url, platform="portal.example", kg_base=catalog.base_url)


def test_hydra_paging_formats_and_loop_guard(catalog: Catalog) -> None:
    with ReplayServer(ReplayData()) as server:
        base = serve_pages(server)
        report = harvester(catalog).run(connector(f"{base}/page1.ttl", catalog))
        fetched = list(server.requests)
    assert report.completed, report.summary()
    # page 1 -> (next) page 2 -> (nextPage) page 3 -> (next) page 1 again: a loop, stopped
    assert [r for r in fetched if "page" in r] == [
        "/portal/page1.ttl",
        "/portal/page2.ttl",
        "/portal/page3.jsonld",
    ]
    assert "/portal/dataset4.ttl" in fetched  # named only: dereferenced
    assert report.counts["datasets"]["created"] == 5
    (error,) = report.errors
    assert error.record == f"{base}/dataset/untitled" and error.stage == "map"
    assert "dct:title" in error.message

    air = find(catalog, "datasets", "portal.example", "air-quality-2023")
    assert air["name"] == "Air quality measurements 2023"
    assert air["description"]["plain"] == "Hourly NO2 and PM10 readings\nfrom 40 stations."
    assert air["keyword"] == ["air quality", "pollution"]
    assert air["date_published"] == "2023-02-01T00:00:00"
    assert air["same_as"] == f"{base}/dataset/air-quality"
    assert air["license"] == ("http://publications.europa.eu/resource/authority/licence/CC_BY_4_0")
    assert air["is_accessible_for_free"] is True
    assert air["version"] == "2.1"
    assert air["temporal_coverage"] == "2023-01-01/2023-12-31"
    assert air["relevant_link"] == ["https://data.example.org/air-quality"]
    (csv,) = air["distribution"]
    assert csv["content_url"] == "https://data.example.org/files/air-quality-2023.csv"
    assert csv["encoding_format"] == "text/csv"
    assert csv["content_size_kb"] == 2048
    assert csv["checksum_algorithm"] == "sha256"
    assert csv["name"] == "All stations (CSV)"
    (agency,) = air["creator"]
    organisation = catalog.get(ASSET_TYPES["organisations"], agency)
    assert organisation["name"] == "Environment Agency"

    iris = find(catalog, "datasets", "openml", "61")  # the node's platform identity is kept
    assert iris["distribution"][0]["encoding_format"] == "ARFF"
    person = catalog.get(ASSET_TYPES["persons"], iris["creator"][0])
    assert person["name"] == "R. A. Fisher"

    noise = find(catalog, "datasets", "portal.example", f"{base}/dataset4.ttl")
    assert noise["description"]["plain"].startswith("Described at its own IRI")
    weather = find(catalog, "datasets", "portal.example", f"{base}/dataset/weather")
    assert weather["date_published"] == "2022-06-30T12:00:00"
    assert weather["distribution"][0]["encoding_format"] == "application/json"


def test_second_run_sweeps_datasets_no_longer_listed(catalog: Catalog) -> None:
    with ReplayServer(ReplayData()) as server:
        base = serve_pages(server)
        run = harvester(catalog)
        run.run(connector(f"{base}/page1.ttl", catalog))
        traffic = find(catalog, "datasets", "portal.example", f"{base}/dataset/traffic")
        ctype, body = server.data.static["/portal/page2.ttl"]
        body = re.sub(rb"<dataset/traffic> a dcat:Dataset.*?\] \.\n", b"", body, flags=re.S)
        server.data.static["/portal/page2.ttl"] = (ctype, body.replace(b"<dataset/traffic>, ", b""))
        again = run.run(connector(f"{base}/page1.ttl", catalog))
    assert again.counts["datasets"]["unchanged"] == 4, again.summary()
    assert again.counts["datasets"]["deleted"] == 1
    tombstone = catalog.index.get(traffic["identifier"], include_deleted=True)
    assert tombstone is not None and tombstone.deleted


def test_rdf_xml_catalogue(catalog: Catalog) -> None:
    with ReplayServer(ReplayData()) as server:
        base = serve_pages(server)
        report = harvester(catalog).run(
            DcatConnector(f"{base}/catalog.rdf", kg_base=catalog.base_url)
        )
    assert report.completed and report.error_count == 0, report.summary()
    (identifier,) = catalog.index.identifiers("datasets")
    rivers = catalog.get(DATASETS, identifier)
    assert rivers["platform"] == "127.0.0.1_" + base.rsplit(":", 1)[1].split("/")[0]
    assert rivers["platform_resource_identifier"] == "https://portal.example.eu/dataset/rivers"
    assert rivers["name"] == "River levels"
    assert rivers["distribution"][0]["encoding_format"] == "CSV"


def test_dcat_catalogue_generated_by_the_replay(catalog: Catalog) -> None:
    with ReplayServer(ReplayData().scaled(dcat=25)) as server:
        report = harvester(catalog).run(
            DcatConnector(f"{server.dcat_url}?size=10", kg_base=catalog.base_url)
        )
    assert report.completed and report.counts["datasets"]["created"] == 25, report.summary()


@pytest.mark.slow
@pytest.mark.server
def test_harvest_another_aiod_kg_node(catalog: Catalog, tmp_path: Path) -> None:
    """A central instance harvests an AIoD node's /catalog (a real ``aiod-kg serve --demo``)."""
    with running_server(
        tmp_path / "node", args=["--demo"], admin_key=None, stop_timeout=30
    ) as live:
        node = live.base_url
        counts = httpx.get(f"{node}/counts", timeout=10).json()
        datasets, models = sum(counts["datasets"].values()), sum(counts["ml_models"].values())
        run = harvester(catalog)
        first = run.run(
            DcatConnector(
                f"{node}/catalog?page_size=7", platform="node-1", kg_base=catalog.base_url
            )
        )
        again = run.run(
            DcatConnector(
                f"{node}/catalog?page_size=7", platform="node-1", kg_base=catalog.base_url
            )
        )
    assert first.completed and first.error_count == 0, first.summary()
    assert first.counts["datasets"]["created"] == datasets
    assert first.counts["ml_models"]["created"] == models  # fair4ml:MLModel
    assert again.counts["datasets"]["unchanged"] == datasets
    assert again.total("created") == again.total("updated") == again.total("deleted") == 0
    anneal = next(
        catalog.get(DATASETS, i)
        for i in catalog.index.identifiers("datasets")
        if catalog.get(DATASETS, i)["name"] == "anneal"
    )
    # the node's /catalog says where the asset comes from (issue 16: identity across sources),
    # so the central keeps its origin: the same asset harvested from OpenML itself is one asset
    assert anneal["platform"] == "openml"
    assert anneal["platform_resource_identifier"] == "2"
    assert anneal["same_as"].startswith(f"{node}/datasets/data_")
    assert "https://www.openml.org/d/2" in anneal["relevant_link"]
