"""One store contract, run against every backend: the embedded pyoxigraph store, a real
``oxigraph serve`` process and a real Virtuoso (skipped only when ``virtuoso-t`` is missing;
``.ci/run`` installs it). The catalog and the SPARQL service on top must behave the same."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from kg.model.rdf_mapping import IRI, Lit, Triple
from kg.settings import Settings
from kg.sparql.service import SparqlService
from kg.store.embedded import EmbeddedStore, GraphStore
from kg.store.index import CatalogIndex
from kg.store.partition import PartitionedStore
from kg.store.remote import Endpoints, RemoteStore
from tests.support.data import example_records
from tests.support.engines import Engine, start_oxigraph, start_virtuoso, virtuoso_binary
from tests.support.server import needs_engine

BASE = "http://127.0.0.1:8000"
XSD = "http://www.w3.org/2001/XMLSchema#"
# the engine backends start an external process: marked ``engine``
BACKENDS = [
    "embedded",
    pytest.param("oxigraph", marks=pytest.mark.engine),
    pytest.param("virtuoso", marks=pytest.mark.engine),
]


@pytest.fixture(scope="module")
@needs_engine
def oxigraph_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = start_oxigraph(tmp_path_factory.mktemp("oxigraph") / "db", timeout_s=10)
    yield engine
    engine.stop()


@pytest.fixture(scope="module")
@needs_engine
def virtuoso_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if virtuoso_binary() is None:
        pytest.skip("virtuoso-t is not installed (Debian virtuoso-opensource; .ci/run has it)")
    engine = start_virtuoso(tmp_path_factory.mktemp("virtuoso"))
    yield engine
    engine.stop()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(name, AIOD_KG_STORE value) of a store with nothing of this test in it yet."""
    if request.param == "embedded":
        yield "embedded", str(tmp_path / "store")
    else:
        engine: Engine = request.getfixturevalue(f"{request.param}_engine")
        yield request.param, engine.url


@pytest.fixture
def store(backend: tuple[str, str]) -> Iterator[GraphStore]:
    name, location = backend
    opened: GraphStore = (
        EmbeddedStore(Path(location)) if name == "embedded" else RemoteStore(location)
    )
    yield opened
    opened.close()


@pytest.fixture
def graph_iri() -> Iterator[Any]:
    token = uuid.uuid4().hex[:12]
    yield lambda n: f"{BASE}/datasets/data_{token}{n:012d}"


def sample(subject: str, marker: str = "v", n: int = 3) -> list[Triple]:
    triples: list[Triple] = [
        (
            subject,
            "http://www.w3.org/1999/02/22-rdf-syntax-ns#type",
            IRI("http://www.w3.org/ns/dcat#Dataset"),
        ),
        (
            subject,
            "https://schema.org/name",
            Lit(f'{marker}: "quoted", back\\slash, new\nline, tab\t, ünïcödé ✓', XSD + "string"),
        ),
        (subject, "http://purl.org/dc/terms/issued", Lit("2024-01-02T03:04:05", XSD + "dateTime")),
        (subject, "https://w3id.org/aiod-kg/ns#contentSizeKb", Lit("42", XSD + "integer")),
        (subject, "https://schema.org/isAccessibleForFree", Lit("true", XSD + "boolean")),
        (subject, "https://schema.org/latitude", Lit("12.5", XSD + "decimal")),
        (
            subject,
            "http://purl.org/dc/terms/license",
            IRI("https://creativecommons.org/licenses/by/4.0/"),
        ),
    ]
    triples += [
        (subject, "http://www.w3.org/ns/dcat#keyword", Lit(f"{marker}-{i}", XSD + "string"))
        for i in range(n)
    ]
    return triples


def as_set(triples: list[Triple]) -> set[tuple[str, str, str, str]]:
    out = set()
    for s, p, o in triples:
        if isinstance(o, IRI):
            out.add((s, p, "iri", o.value))
        else:
            out.add((s, p, o.datatype, o.lexical))
    return out


# --------------------------------------------------------------------------- GraphStore


def test_replace_then_read_round_trips_every_term(store: GraphStore, graph_iri: Any) -> None:
    g = graph_iri(1)
    triples = sample(g)
    store.replace_graphs({g: triples})
    assert as_set(store.graph(g)) == as_set(triples)
    assert store.has_graph(g)


def test_replace_overwrites_one_graph_and_leaves_the_others(
    store: GraphStore, graph_iri: Any
) -> None:
    a, b = graph_iri(1), graph_iri(2)
    store.replace_graphs({a: sample(a, "a1", 5), b: sample(b, "b1")})
    store.replace_graphs({a: sample(a, "a2", 2)})
    assert as_set(store.graph(a)) == as_set(sample(a, "a2", 2))
    assert as_set(store.graph(b)) == as_set(sample(b, "b1"))


def test_delete_graphs_ignores_missing_ones(store: GraphStore, graph_iri: Any) -> None:
    a, b = graph_iri(1), graph_iri(2)
    store.replace_graphs({a: sample(a), b: sample(b)})
    store.delete_graphs([a, graph_iri(99)])
    assert store.graph(a) == [] and not store.has_graph(a)
    assert store.has_graph(b)
    assert store.graph(graph_iri(98)) == []


def test_graph_names_lists_the_written_graphs(store: GraphStore, graph_iri: Any) -> None:
    names = {graph_iri(i) for i in range(5)}
    store.replace_graphs({n: sample(n) for n in names})
    found = {n for n in store.graph_names() if n.startswith(graph_iri(0)[:-12])}
    assert found == names


def test_insert_new_graphs(store: GraphStore, graph_iri: Any) -> None:
    graphs = {graph_iri(i): sample(graph_iri(i), f"n{i}") for i in range(70)}
    bulk = getattr(store, "insert_new_graphs", None)
    (bulk or store.replace_graphs)(graphs)
    for iri in (graph_iri(0), graph_iri(69)):
        assert as_set(store.graph(iri)) == as_set(graphs[iri])


def test_replace_is_atomic_for_concurrent_readers(store: GraphStore, graph_iri: Any) -> None:
    """A reader sees the old graph or the new one, never a mix (one update per replace)."""
    g = graph_iri(1)
    versions = {marker: as_set(sample(g, marker, 40)) for marker in ("A", "B")}
    store.replace_graphs({g: sample(g, "A", 40)})
    stop = threading.Event()
    seen: list[set[tuple[str, str, str, str]]] = []

    def reader() -> None:
        while not stop.is_set():
            seen.append(as_set(store.graph(g)))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(30):
            marker = "B" if i % 2 == 0 else "A"
            store.replace_graphs({g: sample(g, marker, 40)})
    finally:
        stop.set()
        thread.join()
    assert seen
    mixed = [s for s in seen if s not in versions.values()]
    assert not mixed, f"{len(mixed)} of {len(seen)} reads saw a partial graph"


# --------------------------------------------------------------------------- the catalog on it


@pytest.fixture
def catalog_on(backend: tuple[str, str], tmp_path: Path) -> Iterator[Catalog]:
    name, location = backend
    # a base of its own: the engines are shared by the tests of this module, and a new
    # catalog rebuilds its index from the graphs under its base
    base = f"{BASE}/{uuid.uuid4().hex[:8]}"
    settings = Settings(
        store=location,
        data_dir=str(tmp_path / "data"),
        base_url=base,
        private_store=str(tmp_path / "private"),
        sparql_timeout=5,
    )
    catalog = Catalog(settings)
    assert isinstance(catalog.store.public, EmbeddedStore if name == "embedded" else RemoteStore)
    yield catalog
    catalog.close()


def _comparable(data: dict[str, Any]) -> dict[str, Any]:
    """The asset without what the server mints (its identifier in several fields, dates)."""
    return {k: v for k, v in data.items() if k != "aiod_entry" and v != data.get("identifier")}


def test_catalog_behaves_the_same_on_every_backend(catalog_on: Catalog, tmp_path: Path) -> None:
    reference = Catalog(
        Settings(store=str(tmp_path / "reference"), base_url=catalog_on.settings.base_url)
    )
    try:
        for name in ("datasets", "ml_models", "publications", "persons"):
            asset = ASSET_TYPES[name]
            records = example_records(name)
            for r in records:
                r["platform_resource_identifier"] = f"{r.get('platform_resource_identifier')}"
                r.setdefault("aiod_entry", {})["status"] = "published"
            ours = catalog_on.save_many(asset, records)
            theirs = reference.save_many(asset, records)
            assert [r.ok for r in ours] == [r.ok for r in theirs]
            for mine, ref in zip(ours, theirs, strict=True):
                if mine.ok:
                    assert _comparable(catalog_on.get(asset, str(mine.identifier))) == _comparable(
                        reference.get(asset, str(ref.identifier))
                    )
        datasets = ASSET_TYPES["datasets"]
        identifier = catalog_on.list(datasets, 0, 1)[0]["identifier"]
        changed = dict(catalog_on.get(datasets, identifier), name="renamed")
        catalog_on.replace(datasets, identifier, changed)
        assert catalog_on.get(datasets, identifier)["name"] == "renamed"
        iri = catalog_on.iri(datasets, identifier)
        assert any(o == Lit("renamed", XSD + "string") for _, _, o in catalog_on.store.graph(iri))
        catalog_on.delete(datasets, identifier)
        assert not catalog_on.store.has_graph(iri)
    finally:
        reference.close()


def test_drafts_stay_out_of_the_public_store(catalog_on: Catalog) -> None:
    datasets = ASSET_TYPES["datasets"]
    record = {
        "name": "MARKER-draft",
        "platform": "example",
        "platform_resource_identifier": "d1",
        "aiod_entry": {"status": "draft"},
    }
    identifier = catalog_on.create(datasets, record)
    iri = catalog_on.iri(datasets, identifier)
    assert not catalog_on.store.public.has_graph(iri)
    assert catalog_on.store.private.has_graph(iri)
    assert catalog_on.get(datasets, identifier)["name"] == "MARKER-draft"
    service = SparqlService(catalog_on.store, catalog_on.settings)
    ask = 'ASK { GRAPH ?g { ?s ?p ?o FILTER(CONTAINS(STR(?o), "MARKER")) } }'
    assert orjson.loads(service.query(ask).body)["boolean"] is False
    catalog_on.replace(datasets, identifier, {**record, "aiod_entry": {"status": "published"}})
    assert catalog_on.store.public.has_graph(iri) and not catalog_on.store.private.has_graph(iri)
    assert orjson.loads(service.query(ask).body)["boolean"] is True


def test_sparql_on_every_backend(catalog_on: Catalog) -> None:
    datasets = ASSET_TYPES["datasets"]
    for i in range(3):
        catalog_on.create(
            datasets,
            {
                "name": f"sparql {i}",
                "platform": "example",
                "platform_resource_identifier": f"s{i}",
                "keyword": ["alpha", f"k{i}"],
            },
        )
    service = SparqlService(catalog_on.store, catalog_on.settings)
    query = (
        'SELECT ?name WHERE { ?d a dcat:Dataset ; dcat:keyword "alpha" ; schema:name ?name'
        ' FILTER(STRSTARTS(?name, "sparql ")) } ORDER BY ?name'
    )
    rows = orjson.loads(service.query(query).body)["results"]["bindings"]
    assert [r["name"]["value"] for r in rows] == ["sparql 0", "sparql 1", "sparql 2"]
    csv = service.query(query, fmt="csv").body.decode()
    assert csv.split() == ["name", "sparql", "0", "sparql", "1", "sparql", "2"]
    turtle = service.query(
        'CONSTRUCT { ?d schema:name ?n } WHERE { ?d schema:name ?n FILTER(?n = "sparql 1") }',
        fmt="turtle",
    ).body
    assert b'"sparql 1"' in turtle
    graphs = orjson.loads(
        service.query(
            'SELECT (COUNT(DISTINCT ?g) AS ?n) WHERE { GRAPH ?g { ?d dcat:keyword "alpha" } }'
        ).body
    )["results"]["bindings"]
    assert graphs[0]["n"]["value"] == "3"


def test_where_the_index_and_the_private_partition_live(
    backend: tuple[str, str], tmp_path: Path
) -> None:
    """Beside an embedded store; in AIOD_KG_DATA_DIR when the store is a remote engine."""
    name, location = backend
    settings = Settings(store=location, data_dir=str(tmp_path / "data"), base_url=BASE)
    catalog = Catalog(settings)
    try:
        folder = Path(location) if name == "embedded" else tmp_path / "data"
        assert (folder / "catalog.sqlite").exists()
        assert (folder / "private").is_dir()
        assert not (tmp_path / "data").exists() or name != "embedded"
    finally:
        catalog.close()


# --------------------------------------------------------------------------- configuration


def test_endpoint_urls_for_each_dialect() -> None:
    oxigraph = Endpoints.parse("sparql+http://127.0.0.1:7878")
    assert (oxigraph.base, oxigraph.query, oxigraph.update, oxigraph.store) == (
        "http://127.0.0.1:7878",
        "/query",
        "/update",
        "/store",
    )
    virtuoso = Endpoints.parse("sparql+http://dba:secret@127.0.0.1:8890/?dialect=virtuoso")
    assert (virtuoso.query, virtuoso.update, virtuoso.auth, virtuoso.user, virtuoso.password) == (
        "/sparql",
        "/sparql-auth",
        "digest",
        "dba",
        "secret",
    )
    assert "secret" not in repr(virtuoso)
    fuseki = Endpoints.parse("sparql+https://example.org/ds?dialect=fuseki&timeout=5")
    assert (fuseki.base, fuseki.query, fuseki.store, fuseki.timeout) == (
        "https://example.org",
        "/ds/query",
        "/ds/data",
        5.0,
    )
    generic = Endpoints.parse("sparql+http://h:1/sparql?update=/up")
    assert (generic.dialect, generic.query, generic.update, generic.store) == (
        "generic",
        "/sparql",
        "/up",
        None,
    )
    with pytest.raises(ValueError):
        Endpoints.parse("http://127.0.0.1:7878")
    with pytest.raises(ValueError):
        Endpoints.parse("sparql+http://h:1/?dialect=nope")


def test_a_store_given_without_partition_gets_one(tmp_path: Path) -> None:
    settings = Settings(store=str(tmp_path / "s"), base_url=BASE)
    catalog = Catalog(
        settings,
        store=EmbeddedStore(tmp_path / "own"),
        index=CatalogIndex(tmp_path / "index.sqlite"),
    )
    try:
        assert isinstance(catalog.store, PartitionedStore)
    finally:
        catalog.close()
