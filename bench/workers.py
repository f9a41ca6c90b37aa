"""Workers benchmark (issue 13): GET by id, list of 100 and search against ``aiod-kg serve``
with 1 and with 2 workers on the embedded default: requests/s, p50/p99 and the server's
CPU-seconds per 1,000 requests (every process of the server: workers, the Oxigraph store
server, query and parse workers), then how long a write made through one worker takes to be
found by the other worker's search (the one channel that follows the change feed).

``--replicas N``: the cluster tier beside the embedded default instead -- N replicas + nginx
on PostgreSQL + an Oxigraph server per partition (tests/support/topology.py, as
deploy/compose.yaml), the same datasets imported into both, the same requests through nginx
and to the one embedded process; CPU counts every process of each side (replicas, nginx,
PostgreSQL, Oxigraph servers); the machine's load (``uptime``) before and after, and the
1-minute load average at the start of each measured run beside its figures (a shared machine).
``--document-cache-mb M`` sets the replicas' hot-document cache (kg/store/document_cache.py;
0: off, every GET reads PostgreSQL, as before issue 13's cache). ``--warm``: before the runs,
GET every dataset once from each replica (and from the embedded process), so that GET by id
measures hot assets; without it the ids are drawn uniformly from all of them, and a replica
sees about half of its ids for the first time during the 10 s run.

Runs (``--runs``): GET by id; a list of 100 at offsets over the whole type (``list``) and only
at deep offsets (``deep``: from ``DEEP_OFFSET`` on, sliced from each process's kept positions,
kg/store/index.py); search. Each run is preceded by a 2 s run, the first requests after the
start settled, whose figures are kept too (``(first 2 s)``: each process builds its deep-page
positions then), and every
figure has the 1-minute load average at its start beside it (a shared machine).
``--no-search``: AIOD_KG_SEARCH_ENABLED=false, as the 1M list figures were taken.

    .venv/bin/python bench/workers.py                       # 5,000 datasets
    .venv/bin/python bench/workers.py --keep /tmp/w/store --assets 100000 --runs deep --no-search
    .venv/bin/python bench/workers.py --keep data/bench-workers --seconds 15
    .venv/bin/python bench/workers.py --replicas 2          # cluster vs embedded

Load comes from wrk (Debian package ``wrk``; bench/rest.py installs it when root), one thread,
``--connections`` connections; it shares the machine's cores with the server.
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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.machine import describe  # noqa: E402
from bench.rest import (  # noqa: E402
    BASE_URL,
    ensure_wrk,
    import_assets,
    kept_identifiers,
    load_corpus,
    run_wrk,
    synthetic_dataset,
)
from bench.server import aiod_kg_server  # noqa: E402
from kg.store.index import DEEP_OFFSET  # noqa: E402

HEADER = "x-aiod-kg-worker"
WORDS = ["image", "weather", "speech", "graph", "traffic", "medical", "energy", "language"]


def _tree(root: int) -> list[int]:
    """``root`` and every live descendant (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_seconds(root: int) -> float:
    """User + system CPU of the server's process tree (children that ended included)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in _tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / tick


def wait_search_ready(base: str, workers: int, timeout: float = 1800) -> None:
    """Until every worker's /health stops reporting a search catch-up."""
    deadline = time.monotonic() + timeout
    seen: dict[str, bool] = {}
    while time.monotonic() < deadline:
        with httpx.Client(base_url=base, timeout=30) as client:
            answer = client.get("/health")
            seen[answer.headers.get(HEADER, "")] = "search" not in answer.json()
        if len(seen) >= workers and all(seen.values()):
            return
        time.sleep(0.5)
    raise SystemExit("the search index did not catch up")


#: ``--runs`` names -> the request of each load run
RUNS = {
    "get": "GET /datasets/{id}",
    "list": "GET /datasets?limit=100",
    "deep": "GET /datasets?limit=100 deep",
    "search": "GET /search?q=",
}


def runs(identifiers: list[str], chosen: Sequence[str] = tuple(RUNS)) -> dict[str, list[str]]:
    """The paths of each load run: ``list`` at offsets drawn from the whole type, ``deep``
    only at offsets from ``DEEP_OFFSET`` on (answered from the kept positions,
    kg/store/index.py; absent when the catalog has no deep pages)."""
    rng = random.Random(1)
    sample = rng.sample(identifiers, min(len(identifiers), 20_000))
    n = len(identifiers)
    out = {
        "get": [f"/datasets/{i}" for i in sample],
        "list": [
            f"/datasets?offset={rng.randrange(max(1, n - 100))}&limit=100" for _ in range(2000)
        ],
        "deep": [
            f"/datasets?offset={rng.randrange(DEEP_OFFSET, n - 100)}&limit=100"
            for _ in range(2000 if n - 100 > DEEP_OFFSET else 0)
        ],
        "search": [f"/search?q={w}%20{v}" for w in WORDS for v in ("data", "model")],
    }
    return {RUNS[name]: out[name] for name in chosen if out[name]}


def search_lag(base: str, writes: int) -> list[float]:
    """Seconds from a POST answered by one worker until the other worker's search finds it."""
    auth = {"Authorization": f"Bearer {os.environ['AIOD_KG_ADMIN_KEY']}"}
    clients: dict[str, httpx.Client] = {}
    while len(clients) < 2:
        client = httpx.Client(base_url=base, timeout=60)
        pid = client.get("/health").headers[HEADER]
        if pid in clients:
            client.close()
        else:
            clients[pid] = client
    writer, reader = clients.values()
    lags = []
    for n in range(writes):
        word = f"lagword{n}x{random.randrange(10**6)}"
        record = {
            "name": f"Lag probe {word}",
            "platform": "example",
            "platform_resource_identifier": word,
            "description": {"plain": f"A probe dataset named {word}."},
        }
        made = writer.post("/datasets", json=record, headers=auth)
        made.raise_for_status()
        identifier = made.json()["identifier"]
        start = time.perf_counter()
        while True:
            found = reader.get("/search", params={"q": word, "mode": "lexical"})
            if found.headers.get(HEADER) not in clients:
                raise SystemExit("unknown worker")
            items = found.json().get("items", []) if found.status_code == 200 else []
            if any(i["identifier"] == identifier for i in items):
                break
            time.sleep(0.01)
        lags.append(time.perf_counter() - start)
    for client in clients.values():
        client.close()
    return lags


# --------------------------------------------------------------------------- the cluster tier

#: the settings both sides of the cluster comparison run with (search with the static model:
#: the replicas of tests/support/topology.py use it; no link and quality books reconciling)
SIDE_ENV = {
    "AIOD_KG_WORKER_HEADER": "true",
    "AIOD_KG_WRITE_RATE_LIMIT": "0",
    "AIOD_KG_LINKING_ENABLED": "false",
    "AIOD_KG_SEARCH_MODEL": "static",
}


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def import_into(settings: Any, n: int, batch: int = 1000) -> list[str]:
    """``n`` synthetic datasets (bench/rest.py's, same seed) into the catalog of ``settings``."""
    from kg.catalog import Catalog
    from kg.model.fields import ASSET_TYPES

    corpus, rng = load_corpus(), random.Random(42)
    catalog = Catalog(settings)
    identifiers: list[str] = []
    try:
        for start in range(0, n, batch):
            records = [
                synthetic_dataset(i, corpus, rng) for i in range(start, min(n, start + batch))
            ]
            results = catalog.save_many(ASSET_TYPES["datasets"], records, mode="create")
            identifiers.extend(r.identifier for r in results if r.ok and r.identifier)
    finally:
        catalog.close()
    return identifiers


Result = dict[str, float]


def measure_side(
    wrk: str,
    base: str,
    roots: Callable[[], list[int]],
    identifiers: list[str],
    args: argparse.Namespace,
    work: Path,
) -> dict[str, Result]:
    """The three runs against ``base``; CPU of every process tree ``roots()`` names."""
    out: dict[str, Result] = {}
    for name, paths in runs(identifiers, args.runs).items():
        run_wrk(wrk, base, paths, 2, args.connections, work)  # warm-up
        load = os.getloadavg()[0]
        before = sum(cpu_seconds(pid) for pid in roots())
        result = run_wrk(wrk, base, paths, args.seconds, args.connections, work)
        used = sum(cpu_seconds(pid) for pid in roots()) - before
        requests = result["rps"] * args.seconds
        result["cpu_per_1000"] = 1000 * used / requests if requests else float("nan")
        result["load"] = load
        out[name] = result
        print(f"  {name}: {result}", flush=True)
    return out


def warm(bases: list[str], identifiers: list[str], threads: int = 8) -> None:
    """GET every dataset once from each of ``bases`` (a replica, or the embedded process)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(base: str, part: list[str]) -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            for identifier in part:
                client.get(f"/datasets/{identifier}").raise_for_status()

    with ThreadPoolExecutor(threads) as pool:
        jobs = [
            pool.submit(one, base, identifiers[k::threads])
            for base in bases
            for k in range(threads)
        ]
        for job in jobs:
            job.result()


def wait_idle(roots: Callable[[], list[int]], timeout: float = 1800) -> None:
    """Until the processes ``roots()`` names use under 5% of a core for 2 s (background work
    done: /health does not report a follower's queue)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = sum(cpu_seconds(pid) for pid in roots())
        time.sleep(2)
        if sum(cpu_seconds(pid) for pid in roots()) - before < 0.1:
            return
    raise SystemExit("the servers did not settle")


def _pid_file(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def measure_embedded(args: argparse.Namespace, wrk: str, work: Path) -> dict[str, Result]:
    store = work / "embedded"
    identifiers = kept_identifiers(store)
    if not identifiers:
        print(f"importing {args.assets:,} datasets into the embedded store")
        _, identifiers = import_assets(store, args.assets, 1000)
    env = {**SIDE_ENV, "AIOD_KG_BASE_URL": BASE_URL}
    with aiod_kg_server(store, env=env, ready_timeout=1800) as server:
        wait_search_ready(server.base_url, 1)
        if args.warm:
            warm([server.base_url], identifiers)
        print("embedded, one process:")
        pid = server.process.pid
        return measure_side(wrk, server.base_url, lambda: [pid], identifiers, args, work)


def measure_cluster(args: argparse.Namespace, wrk: str, work: Path) -> dict[str, Result]:
    import psycopg

    from kg.settings import Settings
    from tests.support.postgres import postgres_server
    from tests.support.topology import cluster

    folder = Path(tempfile.mkdtemp(prefix="cluster-", dir=work))
    env = dict(SIDE_ENV)
    if args.document_cache_mb is not None:
        env["AIOD_KG_DOCUMENT_CACHE_MB"] = str(args.document_cache_mb)
    with (
        postgres_server() as pg,
        cluster(folder, pg.create_database(), replicas=args.replicas, env=env) as c,
    ):
        print(f"importing {args.assets:,} datasets into the cluster")
        settings = Settings(
            store=c.public.url,
            private_store=c.private.url,
            database=c.database,
            data_dir=str(folder / "importer"),
            base_url=c.url,
            search_enabled=False,
        )
        identifiers = import_into(settings, args.assets)
        # the statistics autovacuum gathers within minutes of a bulk load: without them the
        # planner reads a GET by id's row through the (type, platform) index, a scan of the type
        with psycopg.connect(c.database, autocommit=True) as conn:
            conn.execute("ANALYZE")
        for replica in c.replicas:
            wait_search_ready(replica.url, 1)
        services = [folder / "nginx" / "nginx.pid", pg.folder / "data" / "postmaster.pid"]

        def roots() -> list[int]:
            pids = [r.server.process.pid for r in c.running() if r.server]
            pids += [c.public.process.pid, c.private.process.pid]
            return pids + [p for p in map(_pid_file, services) if p is not None]

        wait_idle(roots)  # each replica's search index has indexed the import (the feed)
        if args.warm:
            warm([r.url for r in c.replicas], identifiers)
        print(f"{args.replicas} replicas + nginx, PostgreSQL, Oxigraph servers:")
        return measure_side(wrk, c.url, roots, identifiers, args, work)


def compare_cluster(args: argparse.Namespace, wrk: str, work: Path) -> None:
    """The embedded default (one process) and ``args.replicas`` replicas + nginx, side by side."""
    from tests.support.topology import nginx_binary

    if nginx_binary() is None:
        raise SystemExit("--replicas needs nginx (apt-get install nginx)")
    os.environ.setdefault("AIOD_KG_ADMIN_KEY", "bench-workers-admin-key")
    print(f"load before: {uptime()}")
    sides: dict[str, dict[str, list[Result]]] = {"embedded": {}, "cluster": {}}
    for _ in range(args.rounds):  # alternated: a neighbour's load weighs on both
        for name, result in measure_embedded(args, wrk, work).items():
            sides["embedded"].setdefault(name, []).append(result)
        for name, result in measure_cluster(args, wrk, work).items():
            sides["cluster"].setdefault(name, []).append(result)
    print(f"load after: {uptime()}")
    table = {
        side: {
            name: {k: statistics.median(r[k] for r in results) for k in results[0]}
            for name, results in by_name.items()
        }
        for side, by_name in sides.items()
    }
    print(f"\nmedians of {args.rounds} rounds, {args.seconds} s per run, wrk -c{args.connections}")
    print(
        f"| request ({args.assets:,} datasets) | embedded req/s | {args.replicas} replicas req/s |"
        " embedded / cluster | p50 ms emb / cl | p99 ms emb / cl | CPU s/1000 emb / cl |"
        " load emb / cl |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, one in table["embedded"].items():
        two = table["cluster"][name]
        print(
            f"| {name} | {one['rps']:,.0f} | {two['rps']:,.0f} | {one['rps'] / two['rps']:.2f}x |"
            f" {one['p50']:.2f} / {two['p50']:.2f} | {one['p99']:.2f} / {two['p99']:.2f} |"
            f" {one['cpu_per_1000']:.2f} / {two['cpu_per_1000']:.2f} |"
            f" {one['load']:.1f} / {two['load']:.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assets", type=int, default=5000)
    parser.add_argument("--seconds", type=int, default=10, help="duration of each load run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--writes", type=int, default=20, help="writes timed for the lag")
    parser.add_argument("--rounds", type=int, default=2, help="1/2-worker alternations")
    parser.add_argument("--keep", help="store directory to keep (reused if it has data)")
    parser.add_argument(
        "--replicas", type=int, default=0, help="compare N replicas + nginx with the embedded"
    )
    parser.add_argument(
        "--warm", action="store_true", help="GET every dataset from every replica first"
    )
    parser.add_argument(
        "--runs",
        nargs="+",
        choices=list(RUNS),
        default=list(RUNS),
        help="which load runs (list: offsets over the whole type; deep: from DEEP_OFFSET on)",
    )
    parser.add_argument(
        "--no-search",
        action="store_true",
        help="AIOD_KG_SEARCH_ENABLED=false (no search run, no lag; the 1M list figures' setup)",
    )
    parser.add_argument(
        "--document-cache-mb",
        type=int,
        default=None,
        help="the replicas' AIOD_KG_DOCUMENT_CACHE_MB (default: the setting's; 0: off)",
    )
    args = parser.parse_args()
    wrk = ensure_wrk()
    if wrk is None:
        raise SystemExit("bench/workers.py needs wrk (apt-get install wrk)")
    print(describe())
    work = Path(tempfile.mkdtemp(prefix="aiodkg-workers-"))
    if args.replicas:
        try:
            compare_cluster(args, wrk, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    store = Path(args.keep) if args.keep else work / "store"
    identifiers = kept_identifiers(store)
    if not identifiers:
        print(f"importing {args.assets:,} synthetic datasets into {store}")
        _, identifiers = import_assets(store, args.assets, 1000)
    os.environ.setdefault("AIOD_KG_ADMIN_KEY", "bench-workers-admin-key")
    # as bench/rest.py: no link, quality and suggestion books reconciling the whole store
    # beside the server while it is measured (each worker would run that start-up pass)
    env = {
        "AIOD_KG_BASE_URL": BASE_URL,
        "AIOD_KG_WORKER_HEADER": "true",
        "AIOD_KG_WRITE_RATE_LIMIT": "0",
        "AIOD_KG_LINKING_ENABLED": "false",
    }
    if args.no_search:  # as the 1M list figures: nothing but the catalogue index serves
        env["AIOD_KG_SEARCH_ENABLED"] = "false"
        args.runs = [r for r in args.runs if r != "search"]
    rounds: dict[tuple[int, str], list[dict[str, Any]]] = {}
    lags: list[float] = []
    print(f"load before: {uptime()}", flush=True)
    for workers in [1, 2] * args.rounds:  # alternated: a neighbour's load weighs on both
        with aiod_kg_server(
            store, env=env, args=["--workers", str(workers)], ready_timeout=1800
        ) as server:
            if not args.no_search:
                wait_search_ready(server.base_url, workers)
            time.sleep(5)  # start-up work (linking reconcile, model warm-up) settles
            for name, paths in runs(identifiers, args.runs).items():
                # the first seconds after a start: each process builds its deep-page positions
                first = run_wrk(wrk, server.base_url, paths, 2, args.connections, work)
                first["load"] = os.getloadavg()[0]
                rounds.setdefault((workers, f"{name} (first 2 s)"), []).append(first)
                load = os.getloadavg()[0]
                before = cpu_seconds(server.process.pid)
                result = run_wrk(wrk, server.base_url, paths, args.seconds, args.connections, work)
                used = cpu_seconds(server.process.pid) - before
                requests = result["rps"] * args.seconds
                result["cpu_per_1000"] = 1000 * used / requests if requests else float("nan")
                first["cpu_per_1000"] = float("nan")
                result["load"] = load  # the 1-minute load average as the run started
                rounds.setdefault((workers, name), []).append(result)
                print(f"{workers} worker(s) {name}: {result} (first 2 s: {first})", flush=True)
            if workers == 2 and not args.no_search and args.writes:
                lags += search_lag(server.base_url, args.writes)
    print(f"load after: {uptime()}", flush=True)
    table = {
        key: {k: statistics.median(r[k] for r in results) for k in results[0]}
        for key, results in sorted(rounds.items())
    }

    print()
    print(f"\nmedians of {args.rounds} rounds, {args.seconds} s per run, wrk -c{args.connections}")
    print(
        f"| request ({len(identifiers):,} datasets) | workers | req/s | p50 ms | p99 ms |"
        " server CPU s / 1000 req | errors | load |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for (workers, name), r in sorted(table.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(
            f"| {name} | {workers} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} |"
            f" {r['cpu_per_1000']:.2f} | {r['errors']:.0f} | {r['load']:.1f} |"
        )
    print()
    for name in runs(identifiers, args.runs):
        one, two = table[(1, name)], table[(2, name)]
        print(
            f"{name}: 2 workers / 1 worker = {two['rps'] / one['rps']:.2f}x req/s,"
            f" CPU per request {two['cpu_per_1000'] / one['cpu_per_1000']:.2f}x"
        )
    if lags:
        print(
            f"search lag on the other worker over {len(lags)} writes: median"
            f" {1000 * statistics.median(lags):.0f} ms, max {1000 * max(lags):.0f} ms"
        )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
