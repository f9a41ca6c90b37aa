"""Safety of the SPARQL service: time limit (explosive queries end and free their worker),
result cap, SERVICE/LOAD policy, snapshots that follow writes, workers that never outlive
their parent, and queries that never block the event loop."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from kg.catalog import Catalog
from kg.errors import Forbidden, NotAcceptable, QueryTimeout, ResultTooLarge
from kg.model.fields import ASSET_TYPES
from kg.settings import Settings
from kg.sparql.formats import negotiate
from kg.sparql.service import SparqlService
from tests.support.data import REPO
from tests.support.engines import Engine, start_oxigraph
from tests.support.server import free_port, needs_engine, running_server, starts_server

DATASETS = ASSET_TYPES["datasets"]
BASE = "http://127.0.0.1:8000"
EXPLOSIVE = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


def alive(pid: int) -> bool:
    """Whether a process exists (and is not a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def records(n: int, start: int = 0) -> list[dict[str, object]]:
    return [
        {
            "name": f"safety {i}",
            "platform": "example",
            "platform_resource_identifier": str(i),
            "keyword": ["k1", "k2", "k3"],
            "description": {"plain": "x" * 2000},
        }
        for i in range(start, start + n)
    ]


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    settings = Settings(
        store=str(tmp_path / "store"),
        base_url=BASE,
        sparql_timeout=2,
        sparql_max_result_bytes=64 * 1024,
        search_enabled=False,
    )
    cat = Catalog(settings)
    cat.save_many(DATASETS, records(40))
    yield cat
    cat.close()


def service(catalog: Catalog, **changes: object) -> SparqlService:
    return SparqlService(catalog.store, catalog.settings.model_copy(update=changes))


# --------------------------------------------------------------------------- time limit


def test_an_explosive_query_ends_at_the_time_limit_and_its_worker_is_killed(
    catalog: Catalog,
) -> None:
    sparql = service(catalog)
    assert sparql.mode == "process"
    sparql.query("ASK {}")
    (worker,) = sparql.workers
    with pytest.raises(QueryTimeout) as caught:
        sparql.query(EXPLOSIVE)
    assert "time limit (2 s)" in str(caught.value.detail)
    assert not alive(worker)  # the CPU is free again
    answer = orjson.loads(sparql.query("SELECT (COUNT(*) AS ?n) { ?s a dcat:Dataset }").body)
    assert answer["results"]["bindings"][0]["n"]["value"] == "40"
    assert sparql.workers and worker not in sparql.workers


def test_concurrent_queries_beyond_the_workers_wait_or_time_out(catalog: Catalog) -> None:
    sparql = service(catalog, sparql_workers=1)
    errors: list[BaseException] = []
    answers: list[bytes] = []

    def run(query: str) -> None:
        try:
            answers.append(sparql.query(query).body)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(EXPLOSIVE,)),
        *[threading.Thread(target=run, args=("ASK { ?s ?p ?o }",)) for _ in range(3)],
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert any(isinstance(e, QueryTimeout) for e in errors)
    assert all(isinstance(e, QueryTimeout) for e in errors)
    assert len(answers) + len(errors) == 4
    assert len(sparql.workers) <= 1


def test_workers_stop_with_the_catalog(tmp_path: Path) -> None:
    cat = Catalog(Settings(store=str(tmp_path / "s"), base_url=BASE, search_enabled=False))
    sparql = service(cat, sparql_workers=2)
    threads = [threading.Thread(target=sparql.query, args=("ASK {}",)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pids = sparql.workers
    assert pids
    cat.close()
    assert not any(alive(pid) for pid in pids)


def test_a_worker_exits_when_its_parent_dies(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import os, sys
        from kg.catalog import Catalog
        from kg.settings import Settings
        from kg.sparql.service import SparqlService
        cat = Catalog(Settings(store={str(tmp_path / "s")!r}, search_enabled=False))
        sparql = SparqlService(cat.store, cat.settings)
        sparql.query("ASK {{}}")
        print(sparql.workers[0], flush=True)
        os.kill(os.getpid(), 9)
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, timeout=120
    )
    worker = int(result.stdout.split()[0])
    deadline = time.monotonic() + 30
    while alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(worker)


def test_thread_mode_answers_too(catalog: Catalog) -> None:
    sparql = service(catalog, sparql_isolation="thread")
    assert sparql.mode == "thread"
    body = orjson.loads(sparql.query("SELECT (COUNT(*) AS ?n) { ?s a dcat:Dataset }").body)
    assert body["results"]["bindings"][0]["n"]["value"] == "40"
    assert sparql.workers == []


# --------------------------------------------------------------------------- snapshots


def test_every_query_sees_the_writes_before_it(catalog: Catalog) -> None:
    sparql = service(catalog)
    count = "SELECT (COUNT(*) AS ?n) { ?s a dcat:Dataset }"

    def n() -> str:
        return str(orjson.loads(sparql.query(count).body)["results"]["bindings"][0]["n"]["value"])

    assert n() == "40"
    catalog.save_many(DATASETS, records(5, start=100))
    assert n() == "45"
    identifier = catalog.list(DATASETS, 0, 1)[0]["identifier"]
    catalog.delete(DATASETS, str(identifier))
    assert n() == "44"
    catalog.save_many(DATASETS, records(100, start=1000))  # the bulk loader path
    assert n() == "144"


# --------------------------------------------------------------------------- result cap


def test_the_result_cap_gives_a_clear_error(catalog: Catalog) -> None:
    sparql = service(catalog)
    with pytest.raises(ResultTooLarge) as caught:
        sparql.query("SELECT * WHERE { ?s ?p ?o }")
    assert "65536 bytes" in str(caught.value.detail) and "LIMIT" in str(caught.value.detail)
    with pytest.raises(ResultTooLarge):
        sparql.query("CONSTRUCT WHERE { ?s ?p ?o }", fmt="turtle")
    assert sparql.query("SELECT * WHERE { ?s ?p ?o } LIMIT 10").body
    thread_mode = service(catalog, sparql_isolation="thread")
    with pytest.raises(ResultTooLarge):
        thread_mode.query("SELECT * WHERE { ?s ?p ?o }", fmt="xml")


# --------------------------------------------------------------------------- SERVICE policy


REFUSED = [
    "SELECT * WHERE { SERVICE <http://evil.example/sparql> { ?s ?p ?o } }",
    "select * where { service silent <http://evil.example/sparql> { ?s ?p ?o } }",
    "PREFIX e: <http://evil.example/> SELECT * WHERE { SERVICE e:sparql { ?s ?p ?o } }",
    "SELECT * WHERE { VALUES ?x { <http://evil.example/> } SERVICE ?x { ?s ?p ?o } }",
    "SELECT * WHERE { \\u0053ERVICE <http://evil.example/sparql> { ?s ?p ?o } }",
    "ASK { SERVICE <http://127.0.0.1:1/sparql> { ?s ?p ?o } }",
]
HARMLESS = [
    'SELECT * WHERE { ?s ?p "SERVICE <http://evil.example/>" }',
    "SELECT * WHERE { ?s <http://example.org/SERVICE> ?o } # SERVICE <http://evil.example/>",
    "SELECT ?service WHERE { ?service a dcat:DataService }",
    "PREFIX service: <http://example.org/> SELECT * WHERE { ?s service:x ?o }",
]


@pytest.mark.parametrize("query", REFUSED)
def test_service_to_outside_hosts_is_refused(catalog: Catalog, query: str) -> None:
    with pytest.raises(Forbidden) as caught:
        service(catalog).query(query)
    assert "AIOD_KG_SPARQL_ALLOWED_SERVICES" in str(caught.value.detail)


@pytest.mark.parametrize("query", HARMLESS)
def test_the_word_service_elsewhere_is_not_a_call(catalog: Catalog, query: str) -> None:
    service(catalog).query(query)


def test_load_in_an_update_is_refused(catalog: Catalog) -> None:
    with pytest.raises(Forbidden):
        service(catalog).update("LOAD <http://evil.example/data.ttl> INTO GRAPH <urn:g>")


@pytest.fixture
@needs_engine
def engine(tmp_path: Path) -> Iterator[Engine]:
    running = start_oxigraph(tmp_path / "federated")
    yield running
    running.stop()


def test_an_allowed_service_is_called(catalog: Catalog, engine: Engine) -> None:
    httpx.post(
        f"{engine.http}/update",
        content=b'INSERT DATA { <urn:a> <urn:b> "remote" }',
        headers={"Content-Type": "application/sparql-update"},
    ).raise_for_status()
    sparql = service(catalog, sparql_allowed_services=f"{engine.http}/")
    query = f"SELECT ?o WHERE {{ SERVICE <{engine.http}/query> {{ <urn:a> <urn:b> ?o }} }}"
    rows = orjson.loads(sparql.query(query).body)["results"]["bindings"]
    assert rows == [{"o": {"type": "literal", "value": "remote"}}]
    with pytest.raises(Forbidden):
        sparql.query("SELECT * WHERE { SERVICE <http://evil.example/> { ?s ?p ?o } }")


# --------------------------------------------------------------------------- negotiation


def test_negotiation_rules() -> None:
    assert negotiate("solutions").name == "json"
    assert negotiate("graph").name == "turtle"
    assert negotiate("solutions", "application/json").name == "json"
    assert negotiate("graph", "application/json").name == "jsonld"
    assert negotiate("graph", "application/xml").name == "rdfxml"
    assert negotiate("boolean", "application/xml").name == "xml"
    assert negotiate("solutions", "text/*").name == "csv"
    assert negotiate("graph", "text/plain").name == "ntriples"
    assert negotiate("graph", None, "xml").name == "rdfxml"
    assert negotiate("solutions", None, "application/sparql-results+xml").name == "xml"
    with pytest.raises(NotAcceptable):
        negotiate("solutions", "text/turtle")
    with pytest.raises(NotAcceptable):
        negotiate("graph", "*/*;q=0, text/csv")


# --------------------------------------------------------------------------- the event loop


@pytest.fixture
@starts_server
def server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    store = tmp_path / "live"
    cat = Catalog(Settings(store=str(store), base_url=base, search_enabled=False))
    cat.save_many(DATASETS, records(30))
    cat.close()
    env = {
        "AIOD_KG_SPARQL_TIMEOUT": "3",
        "AIOD_KG_SPARQL_WORKERS": "1",
        "AIOD_KG_SEARCH_ENABLED": "false",
    }
    with running_server(store, env=env, port=port, admin_key=None):
        yield base


def test_a_running_query_never_blocks_other_requests(server: str) -> None:
    outcome: dict[str, httpx.Response] = {}

    def explode() -> None:
        outcome["explosive"] = httpx.get(
            f"{server}/sparql", params={"query": EXPLOSIVE}, timeout=60
        )

    thread = threading.Thread(target=explode)
    thread.start()
    time.sleep(0.3)  # let it start
    answered_while_running = []
    while thread.is_alive():
        health = httpx.get(f"{server}/health", timeout=10)
        answered_while_running.append(health.status_code == 200 and thread.is_alive())
        listing = httpx.get(f"{server}/datasets", params={"limit": 2}, timeout=10)
        assert listing.status_code == 200
        time.sleep(0.1)
    thread.join()
    assert any(answered_while_running)
    assert outcome["explosive"].status_code == 503
    assert "time limit" in outcome["explosive"].json()["detail"]
    after = httpx.get(f"{server}/sparql", params={"query": "ASK { ?s a dcat:Dataset }"})
    assert after.json()["boolean"] is True
