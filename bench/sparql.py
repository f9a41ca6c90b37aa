"""SPARQL benchmark (issue 3): a fixed set of catalog queries on the same data, against
(a) pyoxigraph in-process, (b) our /sparql over loopback (a real ``aiod-kg serve``) and
(c) ``oxigraph serve`` over loopback; p50 latency per query and the ratio ours / Oxigraph.

    .venv/bin/python bench/sparql.py                       # ~1M triples
    .venv/bin/python bench/sparql.py --triples 10000000    # ~10M triples (takes a while)
    .venv/bin/python bench/sparql.py --keep data/bench-sparql-1m   # reuse the data next time

Data: synthetic persons and organisations, then datasets (text from the real corpus in
tests/data/search-eval, 1-3 distributions, 1-3 creators, a funder for half of them), all
written through ``Catalog.save_many`` (mapping, SHACL validation, store, index). The public
partition is then dumped to N-Quads and bulk-loaded into Oxigraph server's own directory.
Each query is run sequentially on one connection (keep-alive) by the same client; the
lookups use the same sequence of IRIs for every target. Goal: ours within 1.2x of Oxigraph.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import pyoxigraph as ox  # noqa: E402

from bench.machine import describe  # noqa: E402
from bench.rest import load_corpus, synthetic_dataset  # noqa: E402
from bench.server import aiod_kg_server, free_port, stop, wait_ready  # noqa: E402
from kg.catalog import Catalog  # noqa: E402
from kg.model.fields import ASSET_TYPES  # noqa: E402
from kg.settings import Settings  # noqa: E402
from tests.support.engines import oxigraph_binary  # noqa: E402

BASE_URL = "http://127.0.0.1:8000"
PROLOGUE = """PREFIX dcat: <http://www.w3.org/ns/dcat#>
PREFIX dct: <http://purl.org/dc/terms/>
PREFIX schema: <https://schema.org/>
PREFIX aiod: <https://w3id.org/aiod-kg/ns#>
"""
FIRST = [
    "Ada",
    "Alan",
    "Grace",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "John",
    "Karen",
    "Leslie",
    "Margaret",
    "Niklaus",
    "Radia",
    "Tim",
    "Yoshua",
    "Fei-Fei",
    "Geoffrey",
]
LAST = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "McCarthy",
    "Jones",
    "Lamport",
    "Hamilton",
    "Wirth",
    "Perlman",
    "Berners-Lee",
    "Bengio",
    "Li",
]
ORGS = ["University", "Institute", "Lab", "Foundation", "Centre", "Society"]


# --------------------------------------------------------------------------- data


def build(store: Path, triples: int, batch: int) -> dict[str, list[str]]:
    """Write synthetic assets until the public store holds about ``triples`` triples."""
    rng = random.Random(7)
    corpus = load_corpus()
    catalog = Catalog(Settings(store=str(store), base_url=BASE_URL, search_enabled=False))
    try:
        existing = len(catalog.store.public.store)  # type: ignore[attr-defined]
        if existing >= triples * 0.95:
            print(f"reusing {store}: {existing:,} triples")
            return sample_iris(catalog)
        persons_n = max(50, triples // 400)
        orgs_n = max(10, triples // 4000)
        started = time.perf_counter()
        people = _save(
            catalog,
            "persons",
            [
                {
                    "name": f"{rng.choice(FIRST)} {rng.choice(LAST)} {i}",
                    "platform": "example",
                    "platform_resource_identifier": f"p{i}",
                    "given_name": rng.choice(FIRST),
                    "surname": rng.choice(LAST),
                }
                for i in range(persons_n)
            ],
            batch,
        )
        orgs = _save(
            catalog,
            "organisations",
            [
                {
                    "name": f"{rng.choice(LAST)} {rng.choice(ORGS)} {i}",
                    "platform": "example",
                    "platform_resource_identifier": f"o{i}",
                }
                for i in range(orgs_n)
            ],
            batch,
        )
        written = len(catalog.store.public.store)  # type: ignore[attr-defined]
        i = 0
        per_asset = 30.0
        while written < triples:
            todo = max(batch, int((triples - written) / per_asset))
            for start in range(i, i + todo, batch):
                records = []
                for j in range(start, min(i + todo, start + batch)):
                    record = synthetic_dataset(j, corpus, rng)
                    record["creator"] = rng.sample(people, rng.randint(1, 3))
                    if rng.random() < 0.5:
                        record["funder"] = [rng.choice(orgs)]
                    records.append(record)
                results = catalog.save_many(ASSET_TYPES["datasets"], records)
                bad = [r for r in results if not r.ok]
                if bad:
                    raise SystemExit(f"import failed: {bad[0]}")
            before, written = written, len(catalog.store.public.store)  # type: ignore[attr-defined]
            per_asset = max(5.0, (written - before) / todo)
            i += todo
            rate = written / (time.perf_counter() - started)
            print(f"  {written:>11,} triples, {i:,} datasets ({rate:,.0f} triples/s)", flush=True)
        return sample_iris(catalog)
    finally:
        catalog.close()


def _save(
    catalog: Catalog, collection: str, records: list[dict[str, object]], batch: int
) -> list[str]:
    identifiers = []
    for start in range(0, len(records), batch):
        for result in catalog.save_many(ASSET_TYPES[collection], records[start : start + batch]):
            if not result.ok:
                raise SystemExit(f"import failed: {result}")
            identifiers.append(str(result.identifier))
    return identifiers


def sample_iris(catalog: Catalog) -> dict[str, list[str]]:
    rng = random.Random(11)
    out: dict[str, list[str]] = {}
    for collection in ("datasets", "persons"):
        ids = list(catalog.index.identifiers(collection))
        chosen = rng.sample(ids, min(len(ids), 500))
        out[collection] = [catalog.iri(ASSET_TYPES[collection], i) for i in chosen]
    return out


# --------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class Query:
    name: str
    make: Callable[[int], str]  # iteration -> query text
    graph: bool = False  # CONSTRUCT/DESCRIBE


def queries(iris: dict[str, list[str]], word: str, keyword: str) -> list[Query]:
    datasets, persons = iris["datasets"], iris["persons"]

    def d(i: int) -> str:
        return datasets[i % len(datasets)]

    def p(i: int) -> str:
        return persons[i % len(persons)]

    return [
        Query("lookup by IRI", lambda i: f"SELECT ?p ?o WHERE {{ <{d(i)}> ?p ?o }}"),
        Query(
            "asset graph (CONSTRUCT)",
            lambda i: f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{d(i)}> {{ ?s ?p ?o }} }}",
            graph=True,
        ),
        Query("DESCRIBE", lambda i: f"DESCRIBE <{d(i)}>", graph=True),
        Query(
            "page of 100 by date",
            lambda i: (
                "SELECT ?d ?date WHERE { ?d a dcat:Dataset ; "
                f"dct:issued ?date }} ORDER BY DESC(?date) LIMIT 100 OFFSET {(i % 10) * 100}"
            ),
        ),
        Query(
            "count by type",
            lambda i: "SELECT ?type (COUNT(?s) AS ?n) WHERE { ?s a ?type } GROUP BY ?type",
        ),
        Query(
            "count by platform",
            lambda i: (
                "SELECT ?platform (COUNT(?s) AS ?n) WHERE { ?s "
                "a dcat:Dataset ; aiod:platform ?platform } GROUP BY ?platform"
            ),
        ),
        Query(
            "keyword FILTER (name)",
            lambda i: (
                "SELECT ?d ?name WHERE { ?d a dcat:Dataset ; "
                f'schema:name ?name FILTER(CONTAINS(LCASE(?name), "{word}")) }} LIMIT 100'
            ),
        ),
        Query(
            "keyword (exact)",
            lambda i: f'SELECT ?d WHERE {{ ?d dcat:keyword "{keyword}" }} LIMIT 100',
        ),
        Query(
            "join: datasets + creators",
            lambda i: (
                "SELECT ?d ?name ?creator WHERE { ?d "
                "dct:creator ?c ; schema:name ?name . ?c schema:name ?creator } LIMIT 100 "
                f"OFFSET {(i % 10) * 100}"
            ),
        ),
        Query(
            "join: top funders",
            lambda i: (
                "SELECT ?org ?orgName (COUNT(?d) AS ?n) WHERE { "
                "?d schema:funder ?org . ?org schema:name ?orgName } GROUP BY ?org ?orgName "
                "ORDER BY DESC(?n) LIMIT 10"
            ),
        ),
        Query(
            "datasets of a creator",
            lambda i: f"SELECT ?d ?name WHERE {{ ?d dct:creator <{p(i)}> ; schema:name ?name }}",
        ),
        Query(
            "property path",
            lambda i: (
                "SELECT ?url ?who WHERE { <" + d(i) + "> "
                "dcat:distribution/dcat:downloadURL ?url ; (dct:creator|schema:funder)/schema:name"
                " ?who }"
            ),
        ),
        Query("ASK", lambda i: f"ASK {{ <{d(i)}> dct:creator <{p(i)}> }}"),
    ]


# --------------------------------------------------------------------------- targets


def interleaved(
    targets: dict[str, Callable[[str], int]],
    query: Query,
    reps: int,
    budget: float,
    distinct: int = 0,
) -> dict[str, tuple[float, int, int]]:
    """p50 ms, result bytes and runs per target; the targets take turns on every repetition,
    so that the (noisy) machine load falls on all of them alike. ``distinct``: the number of
    different texts per query (their parameters cycle), 0 for a new text every repetition."""
    for i in range(2):
        for run in targets.values():
            run(PROLOGUE + query.make(i))
    latencies: dict[str, list[float]] = {name: [] for name in targets}
    sizes: dict[str, int] = {}
    started = time.perf_counter()
    for i in range(reps):
        text = PROLOGUE + query.make(i % distinct if distinct else i)
        for name, run in targets.items():
            t0 = time.perf_counter()
            n = run(text)
            latencies[name].append((time.perf_counter() - t0) * 1000)
            sizes.setdefault(name, n)
        if time.perf_counter() - started > budget and i >= 4:
            break
    return {
        name: (statistics.median(values), sizes[name], len(values))
        for name, values in latencies.items()
    }


def over_http(client: httpx.Client, url: str) -> Callable[[Query], Callable[[str], int]]:
    def for_query(query: Query) -> Callable[[str], int]:
        accept = "application/n-triples" if query.graph else "application/sparql-results+json"

        def run(text: str) -> int:
            response = client.get(url, params={"query": text}, headers={"Accept": accept})
            if response.status_code != 200:
                raise RuntimeError(f"{url}: {response.status_code} {response.text[:300]}")
            return len(response.content)

        return run

    return for_query


def run_all(
    qs: list[Query],
    run_local: Callable[[str], int],
    ours_http: Callable[[Query], Callable[[str], int]],
    oxi_http: Callable[[Query], Callable[[str], int]],
    reps: int,
    budget: float,
    distinct: int = 0,
) -> dict[str, dict[str, tuple[float, int, int]]]:
    """Every query on the three targets, taking turns; prints each query's p50s as it goes."""
    results: dict[str, dict[str, tuple[float, int, int]]] = {}
    for q in qs:
        results[q.name] = interleaved(
            {"pyoxigraph": run_local, "ours": ours_http(q), "oxigraph": oxi_http(q)},
            q,
            reps,
            budget,
            distinct,
        )
        r = results[q.name]
        print(f"  {q.name:<28} " + "  ".join(f"{k} {v[0]:.2f}" for k, v in r.items()), flush=True)
    return results


# --------------------------------------------------------------------------- main


def _cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a process and its threads have used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settle_until_idle(pid: int, limit: float, quiet: float = 0.05) -> float:
    """Wait until the process uses under ``quiet`` of a core for two seconds in a row (at most
    ``limit`` seconds); returns the seconds waited."""
    started = time.monotonic()
    calm = 0
    while calm < 2 and time.monotonic() - started < limit:
        before = _cpu_seconds(pid)
        time.sleep(1.0)
        calm = calm + 1 if _cpu_seconds(pid) - before < quiet else 0
    return time.monotonic() - started


def _size(location: Path) -> int:
    return len(ox.Store.read_only(str(location)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--triples", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=30, help="runs per query and target")
    parser.add_argument(
        "--settle", type=float, default=10.0, help="seconds to let the servers finish start-up"
    )
    parser.add_argument(
        "--settle-max",
        type=float,
        default=600.0,
        help="then at most this many seconds until our server is idle (its start-up work done)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=30.0,
        help="seconds per query, all targets (at least 5 runs)",
    )
    parser.add_argument("--keep", help="data directory to keep and reuse")
    parser.add_argument(
        "--distinct",
        type=int,
        default=0,
        help="different texts per query, cycling (applications repeat texts; the server "
        "remembers a text's policy decision); 0 (default): a new text every repetition",
    )
    args = parser.parse_args()

    print(describe(("pyoxigraph", "oxigraph", "fastapi", "uvicorn", "httpx")))
    print(
        "load average (1, 5, 15 min) at the start: "
        + ", ".join(f"{x:.1f}" for x in os.getloadavg())
    )
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="aiodkg-sparql-"))
    work.mkdir(parents=True, exist_ok=True)
    store = work / "store"
    t0 = time.perf_counter()
    iris = build(store, args.triples, args.batch)
    print(f"data ready in {time.perf_counter() - t0:,.0f} s")
    t0 = time.perf_counter()
    compacted = ox.Store(str(store))
    compacted.optimize()  # both stores get the same treatment: compacted after the load
    del compacted
    print(f"store optimized in {time.perf_counter() - t0:,.0f} s")

    # Oxigraph server's copy: the public partition dumped and bulk-loaded
    dump = work / "public.nq"
    oxdir = work / "oxigraph"
    binary = oxigraph_binary()
    if binary is None:
        raise SystemExit("oxigraph (pip install oxigraph) is needed")
    if oxdir.exists() and _size(store) != _size(oxdir):
        # the server adds derived graphs (quality, links) at start-up: a copy made before is
        # smaller, and the two would not answer the same queries on the same data
        print("oxigraph server copy is stale: reloading it")
        shutil.rmtree(oxdir)
    if not oxdir.exists():
        source = ox.Store(str(store))
        t1 = time.perf_counter()
        source.dump(str(dump), format=ox.RdfFormat.N_QUADS)
        del source
        subprocess.run(
            [binary, "load", "--location", str(oxdir), "--file", str(dump)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        subprocess.run(
            [binary, "optimize", "--location", str(oxdir)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        dump.unlink()
        print(f"oxigraph server data loaded in {time.perf_counter() - t1:,.0f} s")
    # (a) pyoxigraph in-process, read-only on the same copy as (c), so all three run at once
    local = ox.Store.read_only(str(oxdir))
    quads = len(local)
    print(
        f"dataset: {quads:,} triples in the public partition "
        f"({len(iris['datasets'])} sampled dataset IRIs)"
    )

    def run_local(text: str) -> int:
        result = local.query(text, use_default_graph_as_union=True)
        if isinstance(result, ox.QueryTriples):
            data = result.serialize(format=ox.RdfFormat.N_TRIPLES)
        else:
            data = result.serialize(format=ox.QueryResultsFormat.JSON)
        return len(data or b"")

    client = httpx.Client(timeout=600, limits=httpx.Limits(max_keepalive_connections=2))
    # (b) our /sparql: a real aiod-kg serve process on our store
    env = {
        "AIOD_KG_BASE_URL": BASE_URL,
        "AIOD_KG_SEARCH_ENABLED": "false",
        "AIOD_KG_SPARQL_TIMEOUT": "600",
    }
    qs = queries(iris, word="image", keyword="classification")
    with client, aiod_kg_server(store, env=env) as ours:
        # (c) oxigraph serve on the same data
        oport = free_port()
        oxi = subprocess.Popen(
            [
                binary,
                "serve-read-only",
                "--location",
                str(oxdir),
                "--bind",
                f"127.0.0.1:{oport}",
                "--union-default-graph",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(f"http://127.0.0.1:{oport}/query?query=ASK%7B%7D", oxi, 300)
            # a server that just started is busy for a while (body-parsing workers starting, the
            # link and quality books catching up with every asset): the steady state is measured
            time.sleep(args.settle)
            waited = settle_until_idle(ours.process.pid, args.settle_max)
            print(f"server idle after {args.settle + waited:,.0f} s of start-up work")
            ours_http = over_http(client, f"{ours.base_url}/sparql")
            oxi_http = over_http(client, f"http://127.0.0.1:{oport}/query")
            results = run_all(
                qs, run_local, ours_http, oxi_http, args.reps, args.budget, args.distinct
            )
        finally:
            stop(oxi)

    print()
    texts = f"{args.distinct} texts per query" if args.distinct else "a new text every run"
    print(f"p50 latency in ms, sequential, 1 connection ({quads:,} triples; {texts})")
    header = (
        f"{'query':<28}{'pyoxigraph':>11}{'ours':>9}{'oxigraph':>10}{'ours/oxi':>10}"
        f"{'ours-pyox':>11}  sizes (bytes: pyox / ours / oxi)"
    )
    print(header)
    print("-" * len(header))
    worst = 0.0
    for q in qs:
        r = results[q.name]
        ratio = r["ours"][0] / r["oxigraph"][0]
        worst = max(worst, ratio)
        flag = "" if ratio <= 1.2 else "  > 1.2x"
        print(
            f"{q.name:<28}{r['pyoxigraph'][0]:>11.2f}{r['ours'][0]:>9.2f}"
            f"{r['oxigraph'][0]:>10.2f}{ratio:>10.2f}{r['ours'][0] - r['pyoxigraph'][0]:>11.2f}"
            f"  {r['pyoxigraph'][1]} / {r['ours'][1]} / {r['oxigraph'][1]}{flag}"
        )
    print(f"worst ratio ours/oxigraph: {worst:.2f} (goal <= 1.2)")
    print(
        "load average (1, 5, 15 min) at the end: " + ", ".join(f"{x:.1f}" for x in os.getloadavg())
    )
    print(f"data kept in {work}" if args.keep else f"(data in {work}; delete when done)")


if __name__ == "__main__":
    main()
