"""Workers benchmark (issue 13): GET by id, list of 100 and search against ``aiod-kg serve``
with 1 and with 2 workers on the embedded default: requests/s, p50/p99 and the server's
CPU-seconds per 1,000 requests (every process of the server: workers, the Oxigraph store
server, query and parse workers), then how long a write made through one worker takes to be
found by the other worker's search (the one channel that follows the change feed).

    .venv/bin/python bench/workers.py                       # 5,000 datasets
    .venv/bin/python bench/workers.py --keep data/bench-workers --seconds 15

Load comes from wrk (Debian package ``wrk``; bench/rest.py installs it when root), one thread,
``--connections`` connections; it shares the machine's cores with the server.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.machine import describe  # noqa: E402
from bench.rest import BASE_URL, ensure_wrk, import_assets, kept_identifiers, run_wrk  # noqa: E402
from bench.server import aiod_kg_server  # noqa: E402

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


def runs(identifiers: list[str]) -> dict[str, list[str]]:
    rng = random.Random(1)
    sample = rng.sample(identifiers, min(len(identifiers), 20_000))
    return {
        "GET /datasets/{id}": [f"/datasets/{i}" for i in sample],
        "GET /datasets?limit=100": [
            f"/datasets?offset={rng.randrange(max(1, len(identifiers) - 100))}&limit=100"
            for _ in range(2000)
        ],
        "GET /search?q=": [f"/search?q={w}%20{v}" for w in WORDS for v in ("data", "model")],
    }


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assets", type=int, default=5000)
    parser.add_argument("--seconds", type=int, default=10, help="duration of each load run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--writes", type=int, default=20, help="writes timed for the lag")
    parser.add_argument("--rounds", type=int, default=2, help="1/2-worker alternations")
    parser.add_argument("--keep", help="store directory to keep (reused if it has data)")
    args = parser.parse_args()
    wrk = ensure_wrk()
    if wrk is None:
        raise SystemExit("bench/workers.py needs wrk (apt-get install wrk)")
    print(describe())
    work = Path(tempfile.mkdtemp(prefix="aiodkg-workers-"))
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
    rounds: dict[tuple[int, str], list[dict[str, Any]]] = {}
    lags: list[float] = []
    for workers in [1, 2] * args.rounds:  # alternated: a neighbour's load weighs on both
        with aiod_kg_server(
            store, env=env, args=["--workers", str(workers)], ready_timeout=1800
        ) as server:
            wait_search_ready(server.base_url, workers)
            time.sleep(5)  # start-up work (linking reconcile, model warm-up) settles
            for name, paths in runs(identifiers).items():
                run_wrk(wrk, server.base_url, paths, 2, args.connections, work)  # warm-up
                before = cpu_seconds(server.process.pid)
                result = run_wrk(wrk, server.base_url, paths, args.seconds, args.connections, work)
                used = cpu_seconds(server.process.pid) - before
                requests = result["rps"] * args.seconds
                result["cpu_per_1000"] = 1000 * used / requests if requests else float("nan")
                rounds.setdefault((workers, name), []).append(result)
                print(f"{workers} worker(s) {name}: {result}", flush=True)
            if workers == 2:
                lags += search_lag(server.base_url, args.writes)
    table = {
        key: {k: statistics.median(r[k] for r in results) for k in results[0]}
        for key, results in sorted(rounds.items())
    }

    print()
    print(f"\nmedians of {args.rounds} rounds, {args.seconds} s per run, wrk -c{args.connections}")
    print(
        f"| request ({len(identifiers):,} datasets) | workers | req/s | p50 ms | p99 ms |"
        " server CPU s / 1000 req | errors |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for (workers, name), r in table.items():
        print(
            f"| {name} | {workers} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} |"
            f" {r['cpu_per_1000']:.2f} | {r['errors']:.0f} |"
        )
    print()
    for name in runs(identifiers):
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
