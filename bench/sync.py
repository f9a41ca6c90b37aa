"""AIoD node sync benchmark (issue 16): push N shared assets node -> central, pull N from a
live aiod-kg with the universal connector, and what a no-change re-sync costs each way.

The central is a real ``aiod-kg serve`` on loopback; the node is an embedded catalog in this
process (kg/sync Pusher: new assets in bulk creates, ``POST /bulk/{type}``, since the central
is an aiod-kg), the mirror a fresh embedded catalog (mappings/aiod.py harvest).
``--floor`` also measures the central alone: the same POSTs, prebuilt, from a bare client with
the same concurrency against a fresh central (what push sync could reach at best through the
AIoD REST API, one record per POST), with the central's linker (duplicate detection across
platforms, a follower of every write) on and off. The load average is printed before and after
each phase (``load``): on a shared machine the figures move with it; the CPU seconds the central
spent (and the node, for the push) move much less, so each phase also gives them, per 1,000
records.

    .venv/bin/python bench/sync.py --records 1000 [--concurrency 8] [--floor]
        [--central-linking off]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.machine import describe  # noqa: E402
from bench.server import aiod_kg_server  # noqa: E402
from kg.catalog import Catalog  # noqa: E402
from kg.harvest import Harvester, Http  # noqa: E402
from kg.model.fields import ASSET_TYPES  # noqa: E402
from kg.settings import Settings  # noqa: E402
from kg.sync import Pusher  # noqa: E402
from mappings.aiod import AiodConnector  # noqa: E402

KEY = "bench-admin-key"
ENV = {"AIOD_KG_ADMIN_KEY": KEY, "AIOD_KG_SEARCH_ENABLED": "false"}


def record(i: int) -> dict[str, object]:
    return {"name": f"Node dataset {i}", "keyword": ["bench", f"k{i % 50}"]}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds so far of a process and its live descendants (the workers
    of ``serve --workers N``, query workers; Linux /proc, 0 elsewhere)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        fields = _stat(current)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])
        todo += children.get(current, [])
    return total / os.sysconf("SC_CLK_TCK")


def rates(n: int, seconds: float, **cpu: float) -> dict[str, float]:
    """records/s, and each process's CPU seconds per 1,000 records."""
    out = {"seconds": round(seconds, 2), "records_per_s": round(n / seconds)}
    for name, spent in cpu.items():
        out[f"{name}_cpu_s_per_1000"] = round(spent * 1000 / n, 2)
    return out


def floor(root: Path, n: int, concurrency: int, linking: bool) -> dict[str, float]:
    """POST ``n`` prebuilt bodies to a fresh central, ``concurrency`` at a time."""
    env = {**ENV, "AIOD_KG_LINKING_ENABLED": str(linking).lower()}
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    bodies = [
        orjson.dumps({**record(i), "platform": "floor", "platform_resource_identifier": f"f{i}"})
        for i in range(n)
    ]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with (
        aiod_kg_server(root / f"floor-{linking}", env=env) as central,
        httpx.Client(base_url=f"{central.base_url}/v2", limits=limits, timeout=60) as client,
    ):

        def post(body: bytes) -> None:
            response = client.post("/datasets", content=body, headers=headers)
            assert response.status_code == 200, response.text

        cpu = cpu_seconds(central.process.pid)
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(post, bodies))
        seconds = time.perf_counter() - started
        # the central's followers (linker, quality) may still be catching up: wait for them
        central_cpu = _settled_cpu(central.process.pid) - cpu
    return rates(n, seconds, central=central_cpu)


def _settled_cpu(pid: int, quiet: float = 1.0) -> float:
    """The process's CPU seconds once it has spent (almost) none for ``quiet`` seconds."""
    return _settled(pid, quiet)[0]


def _settled(pid: int, quiet: float = 1.0, step: float = 0.1) -> tuple[float, float]:
    """``(CPU seconds, perf_counter when it went quiet)``: sampled every ``step`` seconds, the
    process is quiet once it has spent under 5% of a core for ``quiet`` seconds; the time is
    that of the last sample where it was still busy (its followers' work done)."""
    spent, busy_until = cpu_seconds(pid), time.perf_counter()
    window: list[tuple[float, float]] = [(busy_until, spent)]
    while True:
        time.sleep(step)
        now, cpu = time.perf_counter(), cpu_seconds(pid)
        if cpu - window[-1][1] >= 0.05 * step:
            busy_until = now
        window.append((now, cpu))
        while len(window) > 1 and now - window[1][0] >= quiet:
            window.pop(0)
        if now - window[0][0] >= quiet and cpu - window[0][1] < 0.05 * quiet:
            return cpu, busy_until


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument(
        "--concurrency", type=int, help="pushes in flight (default: AIOD_KG_SYNC_CONCURRENCY)"
    )
    parser.add_argument("--floor", action="store_true", help="also measure the central alone")
    parser.add_argument(
        "--central-linking",
        choices=("on", "off"),
        default="on",
        help="the push/pull central's linker (off: what its followers cost the push)",
    )
    parser.add_argument(
        "--central-workers",
        type=int,
        default=1,
        help="the push/pull central's `serve --workers N` (processes sharing its catalog)",
    )
    args = parser.parse_args()
    n = args.records
    node_settings: dict[str, object] = {}
    if args.concurrency:
        node_settings["sync_concurrency"] = args.concurrency
    results: dict[str, object] = {"records": n, "load_before": load()}
    central_env = {**ENV, "AIOD_KG_LINKING_ENABLED": str(args.central_linking == "on").lower()}
    results["central_linking"] = args.central_linking
    with tempfile.TemporaryDirectory(prefix="aiod-kg-bench-sync-") as folder:
        root = Path(folder)
        central_args = ["--workers", str(args.central_workers)] if args.central_workers > 1 else []
        results["central_workers"] = args.central_workers
        with aiod_kg_server(root / "central", env=central_env, args=central_args) as central:
            node = Catalog(
                Settings(
                    store=str(root / "node"),
                    admin_key=KEY,
                    base_url="http://node.example",
                    central_url=f"{central.base_url}/v2",
                    central_token=KEY,
                    node_platform="node-bench",
                    **node_settings,  # type: ignore[arg-type]
                )
            )
            concurrency = node.settings.sync_concurrency
            results["concurrency"] = concurrency
            records = [record(i) for i in range(n)]
            for start in range(0, n, 1000):
                node.save_many(ASSET_TYPES["datasets"], records[start : start + 1000])
            pusher = Pusher(node)
            try:
                central_cpu, node_cpu = cpu_seconds(central.process.pid), time.process_time()
                started = time.perf_counter()
                first = pusher.run()
                push_s = time.perf_counter() - started
                push_load = load()
                node_cpu = time.process_time() - node_cpu
                settled_cpu, settled_at = _settled(central.process.pid)
                central_cpu = settled_cpu - central_cpu
                settled_s = max(push_s, settled_at - started)
                started = time.perf_counter()
                again = pusher.run()
                repush_s = time.perf_counter() - started
                repush_load = load()
            finally:
                pusher.close()
                node.close()
            assert first.created == n and not first.errors, first.as_dict()
            results["push"] = {
                **rates(n, push_s, central=central_cpu, node=node_cpu),
                "load": push_load,
                "bulk": pusher.bulk,  # the central took bulk creates (api/routes/bulk.py)
                # until the central's followers (links, quality) had caught up as well
                "settled_seconds": round(settled_s, 2),
                "settled_records_per_s": round(n / settled_s),
            }
            results["push_no_change"] = {
                "seconds": round(repush_s, 3),
                "load": repush_load,
                **again.as_dict(),
            }

            mirror = Catalog(Settings(store=str(root / "mirror"), admin_key=KEY))
            harvester = Harvester(mirror, http=Http(max_retries=2), progress=False)
            try:
                connector = AiodConnector(f"{central.base_url}/v2", page_size=1000)
                pulled = harvester.run(connector)
                pull_load = load()
                again_pull = harvester.run(AiodConnector(f"{central.base_url}/v2", page_size=1000))
                repull_load = load()
            finally:
                harvester.close()
                mirror.close()
            assert pulled.completed, pulled.summary()
            results["pull"] = {
                "seconds": round(pulled.seconds, 2),
                "records_per_s": round(pulled.listed / pulled.seconds),
                "load": pull_load,
            }
            results["pull_no_change"] = {
                "seconds": round(again_pull.seconds, 2),
                "load": repull_load,
            }
        results["load_after_push_pull"] = load()
        if args.floor:
            results["central_post_floor"] = floor(root, n, concurrency, linking=True)
            results["central_post_floor_without_linking"] = floor(
                root, n, concurrency, linking=False
            )
            results["load_after_floor"] = load()
    print(describe())
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
