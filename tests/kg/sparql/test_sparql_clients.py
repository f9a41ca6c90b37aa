"""Real SPARQL clients against a running ``aiod-kg serve``: SPARQLWrapper and rdflib's
SPARQLStore get the right answers in every format -- with the embedded store and with the
store on a real Oxigraph server (``AIOD_KG_STORE=sparql+http://...``), where the REST API
must behave the same."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import rdflib
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from rdflib.query import ResultRow
from SPARQLWrapper import (
    CSV,
    GET,
    JSON,
    JSONLD,
    N3,
    POST,
    POSTDIRECTLY,
    RDFXML,
    TSV,
    TURTLE,
    XML,
    SPARQLWrapper,
)

from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from kg.settings import Settings
from tests.support.data import AUTH
from tests.support.engines import Engine, start_oxigraph
from tests.support.server import free_port, needs_engine, running_server, starts_server

DATASETS = ASSET_TYPES["datasets"]
SCHEMA = rdflib.Namespace("https://schema.org/")
DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
NAMES = ["client 0", "client 1", "client 2", "client 3"]
SELECT = """PREFIX schema: <https://schema.org/>
PREFIX dcat: <http://www.w3.org/ns/dcat#>
SELECT ?name WHERE { ?d a dcat:Dataset ; schema:name ?name } ORDER BY ?name"""
CONSTRUCT = """PREFIX schema: <https://schema.org/>
CONSTRUCT { ?d schema:name ?name } WHERE { ?d a <http://www.w3.org/ns/dcat#Dataset> ;
  schema:name ?name }"""


class Server:
    def __init__(self, base: str, backend: str) -> None:
        self.base = base
        self.endpoint = f"{base}/sparql"
        self.backend = backend


@pytest.fixture(scope="module")
@needs_engine
def oxigraph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = start_oxigraph(tmp_path_factory.mktemp("clients-oxigraph") / "db", timeout_s=10)
    yield engine
    engine.stop()


@pytest.fixture(
    scope="module", params=["embedded", pytest.param("oxigraph", marks=pytest.mark.engine)]
)
@starts_server
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp(f"clients-{request.param}")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    store = (
        request.getfixturevalue("oxigraph").url
        if request.param == "oxigraph"
        else str(folder / "store")
    )
    env = {"AIOD_KG_DATA_DIR": str(folder / "data"), "AIOD_KG_SEARCH_ENABLED": "false"}
    settings = Settings(
        store=store, data_dir=str(folder / "data"), base_url=base, search_enabled=False
    )
    catalog = Catalog(settings)
    catalog.save_many(
        DATASETS,
        [
            {
                "name": name,
                "platform": "example",
                "platform_resource_identifier": str(i),
                "keyword": ["clients"],
            }
            for i, name in enumerate(NAMES)
        ],
    )
    catalog.save_many(
        DATASETS,
        [
            {
                "name": "hidden draft",
                "platform": "example",
                "platform_resource_identifier": "draft",
                "aiod_entry": {"status": "draft"},
            }
        ],
    )
    catalog.close()
    with running_server(store, env=env, port=port):
        yield Server(base, request.param)


def wrapper(server: Server, query: str, fmt: str, method: str = GET) -> Any:
    sparql = SPARQLWrapper(server.endpoint)
    sparql.setQuery(query)
    sparql.setReturnFormat(fmt)
    if method == POSTDIRECTLY:
        sparql.setMethod(POST)
        sparql.setRequestMethod(POSTDIRECTLY)
    else:
        sparql.setMethod(method)
    return sparql.queryAndConvert()


# --------------------------------------------------------------------------- SPARQLWrapper


@pytest.mark.parametrize("method", [GET, POST, POSTDIRECTLY])
def test_sparqlwrapper_select_json(server: Server, method: str) -> None:
    result = wrapper(server, SELECT, JSON, method)
    assert [b["name"]["value"] for b in result["results"]["bindings"]] == NAMES


def test_sparqlwrapper_select_xml(server: Server) -> None:
    document = wrapper(server, SELECT, XML)
    literals = [node.firstChild.data for node in document.getElementsByTagName("literal")]
    assert literals == NAMES


@pytest.mark.parametrize("fmt, delimiter", [(CSV, ","), (TSV, "\t")])
def test_sparqlwrapper_select_csv_tsv(server: Server, fmt: str, delimiter: str) -> None:
    body = wrapper(server, SELECT, fmt)
    rows = list(csv.reader(io.StringIO(body.decode()), delimiter=delimiter))
    values = [r[0].strip('"') for r in rows[1:]]
    assert rows[0][0] in ("name", "?name") and values == NAMES


def test_sparqlwrapper_ask(server: Server) -> None:
    assert (
        wrapper(server, 'ASK { ?d <http://www.w3.org/ns/dcat#keyword> "clients" }', JSON)["boolean"]
        is True
    )
    assert (
        wrapper(server, 'ASK { ?d <https://schema.org/name> "hidden draft" }', JSON)["boolean"]
        is False
    )


@pytest.mark.parametrize("fmt", [TURTLE, N3, RDFXML, JSONLD])
def test_sparqlwrapper_construct(server: Server, fmt: str) -> None:
    result = wrapper(server, CONSTRUCT, fmt)
    graph = (
        result
        if isinstance(result, rdflib.Graph)
        else rdflib.Graph().parse(data=result, format="turtle")
    )
    assert sorted(str(o) for o in graph.objects(None, SCHEMA.name)) == NAMES


# --------------------------------------------------------------------------- rdflib SPARQLStore


def _first(row: object) -> str:
    """The first binding of a SELECT result row, as text."""
    assert isinstance(row, ResultRow)
    return str(row[0])


@pytest.mark.parametrize("return_format", ["json", "xml", "csv"])
def test_rdflib_sparqlstore_select(server: Server, return_format: str) -> None:
    graph = rdflib.Graph(store=SPARQLStore(server.endpoint, returnFormat=return_format))
    rows = list(graph.query(SELECT))
    assert [_first(row) for row in rows] == NAMES


def test_rdflib_sparqlstore_triples_and_construct(server: Server) -> None:
    graph = rdflib.Graph(store=SPARQLStore(server.endpoint))
    datasets = set(graph.subjects(rdflib.RDF.type, DCAT.Dataset))
    assert len(datasets) == len(NAMES)
    names = sorted(str(graph.value(d, SCHEMA.name)) for d in datasets)
    assert names == NAMES
    constructed = graph.query(CONSTRUCT).graph
    assert constructed is not None and len(constructed) == len(NAMES)
    assert graph.query('ASK { ?d <https://schema.org/name> "hidden draft" }').askAnswer is False


# --------------------------------------------------------------------------- REST on the backend


def test_rest_then_sparql_on_the_same_backend(server: Server) -> None:
    record: dict[str, Any] = {
        "name": f"posted on {server.backend}",
        "platform": "example",
        "platform_resource_identifier": "posted",
        "keyword": ["clients"],
    }
    created = httpx.post(f"{server.base}/datasets", json=record, headers=AUTH, timeout=30)
    assert created.status_code == 200, created.text
    identifier = created.json()["identifier"]
    got = httpx.get(f"{server.base}/datasets/{identifier}", timeout=30)
    assert got.status_code == 200 and got.json()["name"] == record["name"]
    turtle = httpx.get(f"{server.base}/datasets/{identifier}", params={"format": "turtle"})
    assert record["name"] in turtle.text
    ask = f"ASK {{ <{server.base}/datasets/{identifier}> <https://schema.org/name> ?n }}"
    assert wrapper(server, ask, JSON)["boolean"] is True
    replaced = httpx.put(
        f"{server.base}/datasets/{identifier}",
        json={**record, "name": "replaced"},
        headers=AUTH,
        timeout=30,
    )
    assert replaced.status_code == 200, replaced.text
    names = wrapper(
        server,
        f"SELECT ?n WHERE {{ <{server.base}/datasets/{identifier}> <https://schema.org/name> ?n }}",
        JSON,
    )["results"]["bindings"]
    assert [b["n"]["value"] for b in names] == ["replaced"]
    deleted = httpx.delete(f"{server.base}/datasets/{identifier}", headers=AUTH, timeout=30)
    assert deleted.status_code == 200, deleted.text
    assert wrapper(server, ask, JSON)["boolean"] is False
    assert httpx.get(f"{server.base}/datasets/{identifier}").status_code == 404


def test_service_description_over_http(server: Server) -> None:
    response = httpx.get(server.endpoint, headers={"Accept": "text/turtle"})
    graph = rdflib.Graph().parse(data=response.text, format="turtle")
    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    assert (rdflib.URIRef(server.endpoint), rdflib.RDF.type, sd.Service) in graph
