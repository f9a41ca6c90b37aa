"""The DCAT-AP catalogue: official shapes, Hydra paging, every format, no leaks."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from pathlib import Path

import pyshacl
import pytest
from fastapi.testclient import TestClient
from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.term import Node

from api.app import create_app
from api.demo.catalog import load_demo
from kg.catalog import Catalog
from kg.settings import Settings
from tests.support.data import STANDARDS
from tests.support.publishing_data import DCAT_SHAPES, Loaded, load_examples, load_varied

SH = Namespace("http://www.w3.org/ns/shacl#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")
SHAPES_DIR = STANDARDS / "dcat-ap" / "3.0.1" / "html-shacl"
FORMATS = {"turtle": "turtle", "rdfxml": "xml", "ntriples": "nt", "jsonld": "json-ld"}


@lru_cache(maxsize=1)
def shapes() -> Graph:
    graph = Graph()
    for name in DCAT_SHAPES:
        graph.parse(SHAPES_DIR / name, format="turtle")
    return graph


def integer(graph: Graph, subject: Node, predicate: Node) -> int:
    """The integer literal ``graph`` states for ``subject predicate``."""
    value = graph.value(subject, predicate)
    assert isinstance(value, Literal), (subject, predicate, value)
    return int(value)


def violations(data: Graph) -> list[str]:
    """Top-level results of severity Violation (warnings are allowed)."""
    _, report, _ = pyshacl.validate(data, shacl_graph=shapes())
    found = []
    for result in report.subjects(RDF.type, SH.ValidationResult):
        if (None, SH.result, result) not in report:
            continue  # nested detail of a warning
        if report.value(result, SH.resultSeverity) == SH.Violation:
            found.append(
                " ".join(
                    str(report.value(result, p))
                    for p in (SH.focusNode, SH.resultPath, SH.resultMessage)
                )
            )
    return found


def harvest(client: TestClient, first: str, fmt: str = "turtle") -> list[Graph]:
    """Follow hydra:next from ``first`` like a harvester; every page parsed by rdflib."""
    pages, url, seen = [], first, set()
    while url:
        assert url not in seen
        seen.add(url)
        sep = "&" if "?" in url else "?"
        response = client.get(f"{url}{sep}format={fmt}")
        assert response.status_code == 200, response.text
        graph = Graph().parse(data=response.content, format=FORMATS[fmt])
        pages.append(graph)
        nxt = list(graph.objects(None, HYDRA.next))
        assert len(nxt) <= 1
        url = str(nxt[0]) if nxt else ""
    return pages


def datasets_of(graphs: list[Graph]) -> list[str]:
    out = []
    for graph in graphs:
        for predicate in (DCAT.dataset, DCAT.service):
            out += [str(o) for o in graph.objects(None, predicate)]
    return out


@pytest.fixture
def varied(catalog: Catalog) -> Loaded:
    return load_varied(catalog, load_examples(catalog))


def test_demo_catalog_pages_validate(tmp_path: Path) -> None:
    settings = Settings(store=str(tmp_path / "demo"), base_url="http://127.0.0.1:8000")
    assert load_demo(settings) > 0
    catalog = Catalog(settings)
    try:
        with TestClient(create_app(settings, catalog)) as client:
            pages = harvest(client, "/catalog?page_size=200")
            total = integer(pages[0], URIRef("http://127.0.0.1:8000/catalog"), HYDRA.totalItems)
            assert total >= 300  # the demo harvest: hundreds of datasets and models
            assert len(datasets_of(pages)) == total
            for graph in pages:
                assert violations(graph) == [], graph.serialize(format="turtle")
    finally:
        catalog.close()


def test_varied_catalog_validates_in_every_format(client: TestClient, varied: Loaded) -> None:
    pages = harvest(client, "/catalog?page_size=5")
    assert sum(len(g) for g in pages) > 100
    for graph in pages:
        assert violations(graph) == [], graph.serialize(format="turtle")
    # the same pages in the other formats: parsed by rdflib, the same triples
    for fmt in ("rdfxml", "jsonld", "ntriples"):
        others = harvest(client, "/catalog?page_size=5", fmt)
        assert len(others) == len(pages)
        for ours, theirs in zip(pages, others, strict=True):
            assert len(ours) == len(theirs)
    # and one big page holds the whole catalogue, also valid
    (whole,) = harvest(client, "/catalog?page_size=1000")
    assert violations(whole) == []


def test_hydra_paging_covers_exactly_the_public_catalogue(
    client: TestClient, varied: Loaded
) -> None:
    expected = {
        f"http://127.0.0.1:8000/{c}/{i}"
        for i, c in varied.published.items()
        if c in ("datasets", "ml_models", "services")
    }
    pages = harvest(client, "/catalog?page_size=4")
    found = datasets_of(pages)
    assert Counter(found) == Counter(expected)  # each exactly once
    first = pages[0]
    (view,) = first.subjects(RDF.type, HYDRA.PartialCollectionView)
    total = integer(first, URIRef("http://127.0.0.1:8000/catalog"), HYDRA.totalItems)
    assert total == len(expected)
    assert first.value(view, HYDRA.first) is not None
    last = str(first.value(view, HYDRA.last))
    assert f"page={-(-len(expected) // 4)}" in last
    assert first.value(view, HYDRA.previous) is None
    # previous links of later pages point back
    assert list(pages[1].objects(None, HYDRA.previous))
    # every page is self-contained: distributions and agents described on the page
    for graph in pages:
        for dist in graph.objects(None, DCAT.distribution):
            assert (dist, RDF.type, DCAT.Distribution) in graph
        for agent in graph.objects(None, URIRef("http://purl.org/dc/terms/creator")):
            assert graph.value(agent, URIRef("http://xmlns.com/foaf/0.1/name")) is not None


def test_no_drafts_or_deleted_leak(client: TestClient, varied: Loaded) -> None:
    text = client.get("/catalog", params={"page_size": 1000, "format": "ntriples"}).text
    for identifier in varied.drafts | varied.deleted:
        assert identifier not in text
    assert "Secret Draft Person" not in text


def test_byte_size_and_media_types(client: TestClient, varied: Loaded) -> None:
    graph = Graph().parse(data=client.get("/catalog?page_size=1000").content, format="turtle")
    sizes = list(graph.objects(None, DCAT.byteSize))
    assert sizes and all(
        isinstance(s, Literal) and s.datatype == XSD.nonNegativeInteger for s in sizes
    )
    media = {str(m) for m in graph.objects(None, DCAT.mediaType)}
    assert "https://www.iana.org/assignments/media-types/text/csv" in media
    assert not any(" " in m for m in media)


def test_modified_since_and_base_url(tmp_path: Path) -> None:
    settings = Settings(store=str(tmp_path / "s"), base_url="https://kg.example.org/aiod")
    catalog = Catalog(settings)
    try:
        load_varied(catalog, datasets=3)
        with TestClient(create_app(settings, catalog)) as client:
            text = client.get("/catalog", params={"format": "ntriples"}).text
            assert "<https://kg.example.org/aiod/catalog>" in text
            assert "testserver" not in text
            future = client.get("/catalog", params={"modified_since": "2999-01-01T00:00:00Z"})
            graph = Graph().parse(data=future.content, format="turtle")
            assert datasets_of([graph]) == []
            assert (
                integer(graph, URIRef("https://kg.example.org/aiod/catalog"), HYDRA.totalItems) == 0
            )
            assert violations(graph) == []
    finally:
        catalog.close()


def test_accept_negotiation(client: TestClient, varied: Loaded) -> None:
    for accept, media in (
        ("text/turtle", "text/turtle"),
        ("application/rdf+xml", "application/rdf+xml"),
        ("application/ld+json", "application/ld+json"),
        ("application/json", "application/ld+json"),
        ("*/*", "text/turtle"),
    ):
        response = client.get("/catalog", headers={"Accept": accept})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(media)
        assert "Accept" in response.headers["vary"]


def test_void_sitemap_dump(client: TestClient, varied: Loaded) -> None:
    import gzip
    import xml.etree.ElementTree as ET

    void = Graph().parse(data=client.get("/.well-known/void").content, format="turtle")
    VOID = Namespace("http://rdfs.org/ns/void#")
    (dataset,) = void.subjects(RDF.type, VOID.Dataset)
    assert integer(void, dataset, VOID.entities) == sum(
        1 for c in varied.published.values() if c != "contacts"
    )
    sitemap = client.get("/sitemap.xml")
    assert sitemap.headers["content-type"].startswith("application/xml")
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = [e.text for e in ET.fromstring(sitemap.content).findall("s:url/s:loc", ns)]
    assert len(locs) == integer(void, dataset, VOID.entities)
    dump = client.get("/dumps/catalog.nq.gz")
    assert dump.status_code == 200
    from rdflib import Dataset

    quads = Dataset().parse(data=gzip.decompress(dump.content), format="nquads")
    graphs = {str(g.identifier) for g in quads.graphs() if len(g)}
    assert graphs == {
        f"http://127.0.0.1:8000/{c}/{i}" for i, c in varied.published.items() if c != "contacts"
    }
    # drafts' content never leaves (a public record may still reference a draft's IRI)
    text = gzip.decompress(dump.content).decode()
    for secret in ("Secret Draft Person", "A draft dataset", "Deleted soon"):
        assert secret not in text


def test_sitemap_index_beyond_the_protocol_limit(
    client: TestClient, varied: Loaded, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xml.etree.ElementTree as ET

    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    whole = ET.fromstring(client.get("/sitemap.xml").content)
    expected = [e.text for e in whole.findall("s:url/s:loc", ns)]
    monkeypatch.setattr("kg.publishing.publisher.SITEMAP_LIMIT", 7)
    index = ET.fromstring(client.get("/sitemap.xml").content)
    assert index.tag == "{http://www.sitemaps.org/schemas/sitemap/0.9}sitemapindex"
    parts = [e.text for e in index.findall("s:sitemap/s:loc", ns)]
    assert len(parts) == -(-len(expected) // 7)
    found = []
    for url in parts:
        assert url is not None
        assert url.startswith("http://127.0.0.1:8000/sitemap.xml?part=")
        part = ET.fromstring(client.get(url.removeprefix("http://127.0.0.1:8000")).content)
        locs = [e.text for e in part.findall("s:url/s:loc", ns)]
        assert 0 < len(locs) <= 7
        found += locs
    assert found == expected


# --------------------------------------------------------------------------- origin (issue 16)


def test_origin_survives_two_routes_and_one_sweep(tmp_path: Path) -> None:
    """A node's /catalog says where each asset comes from (adms:identifier, aiod:platform); a
    central harvesting the node by DCAT-AP and by its AIoD API keys both routes alike, so each
    asset is one asset, and the DCAT sweep leaves what the AIoD route still yields."""
    from api.demo.replay import ReplayData, ReplayServer
    from kg.harvest import Harvester, Http
    from kg.model.fields import ASSET_TYPES
    from mappings.aiod import AiodConnector
    from mappings.dcat import DcatConnector

    datasets = ASSET_TYPES["datasets"]
    node_settings = Settings(
        store=str(tmp_path / "node"),
        admin_key="k",
        base_url="http://node.example",
        node_platform="node-a",
    )
    node = Catalog(node_settings)
    local = node.create(datasets, {"name": "Made on the node"})
    node.create(
        datasets,
        {
            "name": "Harvested by the node",
            "platform": "zenodo",
            "platform_resource_identifier": "7",
        },
    )
    with TestClient(create_app(node_settings, node)) as client:
        page = client.get("/catalog?format=turtle").content
        listing = client.get("/v2/datasets?limit=100").content
        oai = client.get(
            "/oai", params={"verb": "ListRecords", "metadataPrefix": "oai_datacite"}
        ).text
    node.close()
    graph = Graph().parse(data=page, format="turtle")
    assert not violations(graph)
    adms = Namespace("http://www.w3.org/ns/adms#")
    skos = Namespace("http://www.w3.org/2004/02/skos/core#")
    subject = URIRef(f"http://node.example/datasets/{local}")
    (identifier,) = graph.objects(subject, adms.identifier)
    assert graph.value(identifier, skos.notation) == Literal(local)
    assert graph.value(identifier, adms.schemaAgency) == Literal("node-a")
    assert f'alternateIdentifierType="node-a">{local}<' in oai

    central = Catalog(Settings(store=str(tmp_path / "central"), admin_key="k"))
    harvester = Harvester(central, http=Http(max_retries=0), progress=False)
    data = ReplayData()
    data.static["/node/catalog"] = ("text/turtle", page)
    data.static["/node/v2/datasets"] = ("application/json", listing)
    try:
        with ReplayServer(data) as server:
            dcat = DcatConnector(f"{server.url}/node/catalog", kg_base=central.base_url)
            aiod = AiodConnector(f"{server.url}/node/v2", platform="node-a")
            assert harvester.run(dcat).completed
            assert harvester.run(aiod).completed
            for key in (("node-a", local), ("zenodo", "7")):
                assert central.index.find_platform("datasets", *key) is not None
            assert len(list(central.index.identifiers("datasets"))) == 2  # one asset per origin
            # the node's catalogue stops listing the zenodo record; its AIoD API still does
            data.static["/node/catalog"] = ("text/turtle", _without(page, "zenodo"))
            report = harvester.run(dcat)
            assert report.completed and not report.counts["datasets"].get("deleted")
            assert central.index.find_platform("datasets", "zenodo", "7") is not None
            data.static["/node/v2/datasets"] = (
                "application/json",
                b"[" + b",".join(_json_items(listing, exclude="zenodo")) + b"]",
            )
            report = harvester.run(aiod)  # now no route yields it: gone
            assert report.counts["datasets"]["deleted"] == 1
            assert central.index.find_platform("datasets", "zenodo", "7") is None
            assert central.index.find_platform("datasets", "node-a", local) is not None
    finally:
        harvester.close()
        central.close()


def _without(turtle: bytes, platform: str) -> bytes:
    """The catalogue page without the datasets whose origin is ``platform``."""
    graph = Graph().parse(data=turtle, format="turtle")
    aiod = Namespace("https://w3id.org/aiod-kg/ns#")
    for subject in list(graph.subjects(aiod.platform, Literal(platform))):
        graph.remove((None, None, subject))
        graph.remove((subject, None, None))
    return graph.serialize(format="turtle").encode()


def _json_items(listing: bytes, exclude: str) -> list[bytes]:
    import orjson

    return [orjson.dumps(r) for r in orjson.loads(listing) if r.get("platform") != exclude]
