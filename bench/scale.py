"""Scale run (issue 9): N synthetic assets of every type through the validated write path,
then latencies against a real server over that store.

    .venv/bin/python bench/scale.py --assets 1000000       # the goal size
    .venv/bin/python bench/scale.py --assets 200000 --keep data/scale-200k

Data: every AIoD asset type, shaped like the AIoD example resources (tests/data/fixtures) with
names, descriptions and keywords drawn from the real dataset cards in tests/data/search-eval
(descriptions cut at random lengths); datasets use bench/rest.py's generator (1-3
distributions, dates, licences). The mix leans on datasets and ML models, as the harvested
platforms do. All of it goes through ``Catalog.save_many`` (mapping, SHACL, store, index).

Reported: ingest time and assets/s, store size on disk, peak RSS (ingest process, server),
search indexing time (``static`` vectors + BM25: MiniLM on two CPUs would need hours at 1M),
then REST GET and list p50/p99, the SPARQL query set of bench/sparql.py p50/p99, search
p50/p99, and a full ``/catalog`` page walk (1000 per page).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from bench.machine import describe  # noqa: E402
from bench.rest import load_corpus, synthetic_dataset  # noqa: E402
from bench.server import DISCARD, aiod_kg_server  # noqa: E402
from bench.sparql import PROLOGUE as SPARQL_PROLOGUE  # noqa: E402
from bench.sparql import queries as sparql_queries  # noqa: E402
from bench.workers import wait_search_ready  # noqa: E402
from kg.bulk import BulkImport, default_jobs  # noqa: E402
from kg.catalog import Catalog  # noqa: E402
from kg.model.fields import ASSET_TYPES, AssetType  # noqa: E402
from kg.settings import Settings  # noqa: E402

BASE_URL = "http://127.0.0.1:8000"
EXAMPLES = REPO / "tests" / "data" / "fixtures" / "aiod" / "example_resources"
ADMIN_KEY = "scale-admin-key"
# share of each type (the rest of the types share OTHER equally)
MIX = {
    "datasets": 0.34,
    "ml_models": 0.34,
    "publications": 0.10,
    "persons": 0.05,
    "organisations": 0.03,
}
OTHER = 1.0 - sum(MIX.values())
SERVER_FIELDS = ("identifier", "aiod_entry", "platform", "platform_resource_identifier")


def templates() -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for collection in ASSET_TYPES:
        path = EXAMPLES / f"{collection}.json"
        records = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
        cleaned = []
        for record in records:
            record = {k: v for k, v in record.items() if k not in SERVER_FIELDS}
            cleaned.append(record)
        out[collection] = cleaned or [{"name": collection}]
    return out


def plan(n: int) -> dict[str, int]:
    others = [c for c in ASSET_TYPES if c not in MIX]
    counts = {c: int(n * share) for c, share in MIX.items()}
    for c in others:
        counts[c] = int(n * OTHER / len(others))
    counts["datasets"] += n - sum(counts.values())
    return counts


def synthetic(
    collection: str,
    i: int,
    corpus: list[dict[str, Any]],
    shapes: dict[str, list[dict[str, Any]]],
    rng: random.Random,
) -> dict[str, Any]:
    if collection == "datasets":
        return synthetic_dataset(i, corpus, rng)
    record = copy.deepcopy(shapes[collection][i % len(shapes[collection])])
    card = corpus[rng.randrange(len(corpus))]
    words = str(card.get("description") or "").split()
    cut = rng.randint(min(10, len(words)), max(10, len(words)))
    asset = ASSET_TYPES[collection]
    if "name" in asset.by_name:
        record["name"] = f"{card.get('name', collection)} {collection[:-1]} {i}"
    if "description" in asset.by_name:
        record["description"] = {"plain": " ".join(words[:cut]) or "No description."}
    if "keyword" in asset.by_name:
        record["keyword"] = list(card.get("tags") or [])[:6]
    if collection != "platforms":
        record["platform"] = rng.choice(["huggingface", "openml", "zenodo", "example"])
        record["platform_resource_identifier"] = f"{collection}-{i}"
    else:
        record["name"] = f"platform{i}"
    return record


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def rss_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ingest(store: Path, n: int, batch: int, jobs: int) -> dict[str, Any]:
    """The assets through the validated write path: ``jobs`` worker processes mapping and
    validating while this one writes (kg/bulk.py, ``aiod-kg import --jobs``); 0 = save_many."""
    corpus = load_corpus()
    shapes = templates()
    rng = random.Random(9)
    settings = Settings(store=str(store), base_url=BASE_URL, search_enabled=False)
    catalog = Catalog(settings)
    counts = plan(n)
    done = 0
    load_start = load_average()
    cpu_start = os.times()
    started = time.perf_counter()

    def batches() -> Iterator[tuple[AssetType, list[dict[str, Any]]]]:
        # interleave the types batch by batch, as a harvest of several platforms would
        left = dict(counts)
        position = {c: 0 for c in counts}
        while any(left.values()):
            for collection in list(left):
                take = min(batch, left[collection])
                if take <= 0:
                    continue
                yield (
                    ASSET_TYPES[collection],
                    [
                        synthetic(collection, position[collection] + k, corpus, shapes, rng)
                        for k in range(take)
                    ],
                )
                position[collection] += take
                left[collection] -= take

    try:
        with BulkImport(catalog, jobs=jobs) as bulk:
            for asset, results in bulk.save(batches(), mode="create"):
                bad = [r for r in results if not r.ok]
                if bad:
                    raise SystemExit(f"{asset.collection}: import failed: {bad[0]}")
                before = done
                done += len(results)
                if done // (batch * 20) != before // (batch * 20):
                    rate = done / (time.perf_counter() - started)
                    print(
                        f"  {done:>9,} assets ({rate:,.0f}/s, RSS peak {rss_peak_mib():,.0f} MiB,"
                        f" load {load_average()})",
                        flush=True,
                    )
        seconds = time.perf_counter() - started
        catalog.store.flush()
    finally:
        catalog.close()
    cpu_end = os.times()  # the workers are joined: their CPU is in children_*
    cpu = {
        "writer_cpu_s": round(cpu_end.user + cpu_end.system - cpu_start.user - cpu_start.system),
        "workers_cpu_s": round(
            cpu_end.children_user
            + cpu_end.children_system
            - cpu_start.children_user
            - cpu_start.children_system
        ),
    }
    return {
        "assets": done,
        "jobs": jobs,
        "ingest_s": seconds,
        "rate": done / seconds,
        "counts": counts,
        "ingest_rss_mib": rss_peak_mib(),
        "ingest_load": f"{load_start} -> {load_average()}",
        "ingest_stages_s": {k: round(v) for k, v in catalog.timings.items()},
        **cpu,
    }


def index_search(store: Path) -> float:
    """Build the search index (BM25 + static vectors) as ``aiod-kg reindex`` would."""
    started = time.perf_counter()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "api.cli.main",
            "reindex",
            "--store",
            str(store),
            "--model",
            "static",
        ],
        cwd=REPO,
        env={**os.environ, "AIOD_KG_BASE_URL": BASE_URL},
        check=True,
        capture_output=True,
        text=True,
    )
    print("  " + out.stdout.strip())
    return time.perf_counter() - started


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def timed(
    client: httpx.Client,
    reps: int,
    make: Callable[[int], tuple[str, dict[str, Any]]],
    method: str = "GET",
    refused: list[int] | None = None,
) -> tuple[float, float]:
    """p50 and p99 in ms of ``reps`` sequential requests. A 503 (the SPARQL time limit) is
    counted in ``refused`` when given, and timed like any answer; any other error stops."""
    samples = []
    for i in range(reps):
        url, params = make(i)
        t0 = time.perf_counter()
        answer = client.request(method, url, **params)
        samples.append(time.perf_counter() - t0)
        if answer.status_code == 503 and refused is not None:
            refused.append(i)
        elif answer.status_code >= 400:
            raise SystemExit(f"{url}: {answer.status_code} {answer.text[:300]}")
    return pct(samples, 0.5), pct(samples, 0.99)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(
    store: Path, reps: int, walk_limit: float, linking: bool = False, wrk_seconds: int = 10
) -> dict[str, Any]:
    settings = Settings(store=str(store), base_url=BASE_URL, search_enabled=False)
    catalog = Catalog(settings)
    rng = random.Random(5)
    ids: dict[str, list[str]] = {}
    for collection in ("datasets", "ml_models", "publications", "persons"):
        all_ids = list(catalog.index.identifiers(collection))
        ids[collection] = rng.sample(all_ids, min(2000, len(all_ids)))
        if collection == "datasets":
            every_dataset = all_ids
    totals: dict[str, Any] = {c: catalog.count(ASSET_TYPES[c]) for c in ("datasets", "ml_models")}
    catalog.close()
    corpus = load_corpus()
    words = [w for c in corpus[:200] for w in str(c.get("name", "")).replace("_", " ").split()]
    env = {
        "AIOD_KG_BASE_URL": BASE_URL,
        "AIOD_KG_ADMIN_KEY": ADMIN_KEY,
        "AIOD_KG_SEARCH_MODEL": "static",
        "AIOD_KG_SEARCH_WARMUP": "true",
        # the first start after an offline import builds the link, quality and suggestion
        # books of every asset in the background (suggestions embed with MiniLM): that is
        # `aiod-kg relink`'s work, not a request's, and would weigh on every figure below
        "AIOD_KG_LINKING_ENABLED": "true" if linking else "false",
    }
    out: dict[str, Any] = {"linking_enabled": linking}
    with aiod_kg_server(store, env=env, log=DISCARD, ready_timeout=600) as server:
        process = server.process
        with httpx.Client(base_url=server.base_url, timeout=120) as client:
            started = time.perf_counter()
            client.get("/search", params={"q": "warm up"})
            out["search_first_s"] = time.perf_counter() - started
            wait_search_ready(server.base_url, 1)  # a catch-up answers 503 until it is done
            out["search_ready_s"] = time.perf_counter() - started
            ds = ids["datasets"]
            out["GET asset (JSON)"] = timed(
                client, reps, lambda i: (f"/datasets/{ds[i % len(ds)]}", {})
            )
            mm = ids["ml_models"]
            out["GET asset (Turtle)"] = timed(
                client, reps // 2, lambda i: (f"/ml_models/{mm[i % len(mm)]}?format=turtle", {})
            )
            dn = max(1, int(totals["datasets"]) - 100)
            out["list 100 (first pages)"] = timed(
                client,
                reps // 2,
                lambda i: ("/datasets", {"params": {"limit": 100, "offset": (i % 10) * 100}}),
            )
            out["counts"] = timed(client, max(5, reps // 20), lambda i: ("/counts", {}))
            out["list 100 (deep offsets)"] = timed(
                client,
                reps // 2,
                lambda i: ("/datasets", {"params": {"limit": 100, "offset": (i * 7919) % dn}}),
            )
            out["search"] = timed(
                client,
                reps // 2,
                lambda i: (
                    "/search",
                    {"params": {"q": f"{words[i % len(words)]} {words[(i * 7) % len(words)]}"}},
                ),
            )
            iris = {
                "datasets": [catalog_iri("datasets", i) for i in ds],
                "persons": [catalog_iri("persons", i) for i in ids["persons"]],
            }
            for query in sparql_queries(iris, "data", "image"):
                refused: list[int] = []

                def sparql(i: int, body: Callable[[int], str] = query.make) -> tuple[str, Any]:
                    return (
                        "/sparql",
                        {
                            "data": {"query": SPARQL_PROLOGUE + body(i)},
                            "headers": {
                                "Accept": "application/sparql-results+json, application/n-triples"
                            },
                        },
                    )

                out[f"SPARQL {query.name}"] = timed(
                    client,
                    max(5, reps // 20),
                    sparql,
                    method="POST",
                    refused=refused,
                )
                if refused:
                    out[f"SPARQL {query.name}: 503 (time limit)"] = len(refused)
            out["load_after_sequential"] = load_average()
            out.update(concurrent(server.base_url, every_dataset, wrk_seconds))
            out["load_after_concurrent"] = load_average()
            out["catalog_walk"] = walk(client, walk_limit)
            out["oai_walk"] = walk_oai(client, walk_limit)
        out["server_rss_mib"] = vm_hwm_mib(process.pid)
    return out


NEXT = re.compile(r"<http://www.w3.org/ns/hydra/core#next> <([^>]+)>")
TOTAL = re.compile(r'<http://www.w3.org/ns/hydra/core#totalItems> "(\d+)"')


def catalog_iri(collection: str, identifier: str) -> str:
    return f"{BASE_URL}/{collection}/{identifier}"


def walk(client: httpx.Client, limit: float) -> dict[str, Any]:
    """Follow hydra:next from the first /catalog page (1000 per page) to the end."""
    url: str | None = "/catalog?page_size=1000"
    pages = 0
    started = time.perf_counter()
    while url and time.perf_counter() - started < limit:
        answer = client.get(url, headers={"Accept": "application/n-triples"})
        if answer.status_code != 200:
            raise SystemExit(f"/catalog: {answer.status_code} {answer.text[:300]}")
        pages += 1
        found = NEXT.search(answer.text)
        url = found.group(1).replace(BASE_URL, "") if found else None
    total = TOTAL.search(answer.text) if pages else None
    return {
        "pages": pages,
        "seconds": round(time.perf_counter() - started, 1),
        "complete": url is None,
        "items": int(total.group(1)) if total else None,
    }


TOKEN = re.compile(rb"<resumptionToken[^>]*>([^<]+)</resumptionToken>")


def walk_oai(client: httpx.Client, limit: float) -> dict[str, Any]:
    """OAI-PMH ListRecords (oai_dc) from the first page, following resumption tokens."""
    params: dict[str, str] = {"verb": "ListRecords", "metadataPrefix": "oai_dc"}
    pages = records = 0
    started = time.perf_counter()
    complete = False
    while time.perf_counter() - started < limit:
        answer = client.get("/oai", params=params)
        if answer.status_code != 200:
            raise SystemExit(f"/oai: {answer.status_code} {answer.text[:300]}")
        pages += 1
        records += answer.content.count(b"<record>")
        found = TOKEN.search(answer.content)
        if not found:
            complete = True
            break
        params = {"verb": "ListRecords", "resumptionToken": found.group(1).decode()}
    seconds = time.perf_counter() - started
    return {
        "pages": pages,
        "records": records,
        "seconds": round(seconds, 1),
        "records_per_s": round(records / max(seconds, 1e-9)),
        "complete": complete,
    }


def concurrent(base: str, identifiers: list[str], seconds: int) -> dict[str, Any]:
    """bench/rest.py's wrk runs (16 connections): hello-world and GET by id alternated, then
    lists of 100 at random offsets over the whole of the datasets."""
    from bench.rest import ensure_wrk
    from bench.rest import measure as rest_measure

    if ensure_wrk() is None:
        return {"wrk": "not installed: no concurrent figures"}
    options = argparse.Namespace(connections=16, seconds=seconds, rounds=3)
    with tempfile.TemporaryDirectory() as work:
        medians, ratios = rest_measure(base, identifiers, options, Path(work))
    out: dict[str, Any] = {f"wrk {name}": figures for name, figures in medians.items()}
    out["GET by id / hello-world (median of rounds)"] = round(sorted(ratios)[len(ratios) // 2], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--assets", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument(
        "--jobs",
        type=int,
        default=default_jobs(),
        help="worker processes mapping and validating (aiod-kg import --jobs); 0: none",
    )
    parser.add_argument("--reps", type=int, default=1000, help="requests per REST measurement")
    parser.add_argument(
        "--walk-limit",
        type=float,
        default=1800.0,
        help="stop the /catalog walk after this many seconds",
    )
    parser.add_argument("--keep", type=Path, help="store directory (reused when it exists)")
    parser.add_argument(
        "--with-linking",
        action="store_true",
        help="measure with the link/quality/suggestion books on (their first build runs in the "
        "server's background during the measurements)",
    )
    parser.add_argument("--wrk-seconds", type=int, default=10, help="each wrk run's length")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    print(describe(("pyoxigraph", "fastapi", "uvicorn", "tantivy", "faiss-cpu", "model2vec")))
    temp = None
    if args.keep:
        store = args.keep
    else:
        temp = tempfile.mkdtemp(prefix="aiod-kg-scale-")
        store = Path(temp) / "store"
    figures: dict[str, Any] = {"assets_requested": args.assets}
    try:
        if not (store / "catalog.sqlite").exists():
            print(f"ingesting {args.assets:,} assets into {store}", flush=True)
            figures.update(ingest(store, args.assets, args.batch, args.jobs))
            cpu = figures["writer_cpu_s"] + figures["workers_cpu_s"]
            print(
                f"ingest: {figures['assets']:,} assets in {figures['ingest_s']:.0f} s "
                f"= {figures['rate']:,.0f} assets/s (--jobs {args.jobs}, load "
                f"{figures['ingest_load']}), CPU {figures['writer_cpu_s']} s writer + "
                f"{figures['workers_cpu_s']} s workers = {figures['assets'] / max(cpu, 1):,.0f}"
                f" assets per CPU-second, stages {figures['ingest_stages_s']}, peak RSS "
                f"{figures['ingest_rss_mib']:,.0f} MiB",
                flush=True,
            )
            figures["store_bytes"] = dir_size(store)
            print(f"store on disk: {figures['store_bytes'] / 2**30:.2f} GiB", flush=True)
            figures["search_index_s"] = index_search(store)
            print(f"search indexing: {figures['search_index_s']:.0f} s", flush=True)
            figures["load_after_ingest"] = load_average()
            figures["store_bytes_with_search"] = dir_size(store)
        figures["load_before_measure"] = load_average()
        figures.update(
            measure(store, args.reps, args.walk_limit, args.with_linking, args.wrk_seconds)
        )
        for name, value in figures.items():
            if isinstance(value, tuple):
                print(f"{name:<40} p50 {value[0]:8.1f} ms   p99 {value[1]:8.1f} ms")
            elif name not in ("counts",):
                print(f"{name:<40} {value}")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2, default=str))
    finally:
        if temp:
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main()
