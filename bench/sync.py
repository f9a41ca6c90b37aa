"""AIoD node sync benchmark (issue 16): push N shared assets node -> central, pull N from a
live aiod-kg with the universal connector, and what a no-change re-sync costs each way.

The central is a real ``aiod-kg serve`` on loopback; the node is an embedded catalog in this
process (kg/sync Pusher), the mirror a fresh embedded catalog (mappings/aiod.py harvest).

    .venv/bin/python bench/sync.py --records 1000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    args = parser.parse_args()
    n = args.records
    results: dict[str, object] = {"records": n}
    with tempfile.TemporaryDirectory(prefix="aiod-kg-bench-sync-") as folder:
        root = Path(folder)
        env = {"AIOD_KG_ADMIN_KEY": KEY, "AIOD_KG_SEARCH_ENABLED": "false"}
        with aiod_kg_server(root / "central", env=env) as central:
            node = Catalog(
                Settings(
                    store=str(root / "node"),
                    admin_key=KEY,
                    base_url="http://node.example",
                    central_url=f"{central.base_url}/v2",
                    central_token=KEY,
                    node_platform="node-bench",
                )
            )
            records = [
                {"name": f"Node dataset {i}", "keyword": ["bench", f"k{i % 50}"]} for i in range(n)
            ]
            for start in range(0, n, 1000):
                node.save_many(ASSET_TYPES["datasets"], records[start : start + 1000])
            pusher = Pusher(node)
            try:
                started = time.perf_counter()
                first = pusher.run()
                push_s = time.perf_counter() - started
                started = time.perf_counter()
                again = pusher.run()
                repush_s = time.perf_counter() - started
            finally:
                pusher.close()
                node.close()
            assert first.created == n and not first.errors, first.as_dict()
            results["push"] = {"seconds": round(push_s, 2), "records_per_s": round(n / push_s)}
            results["push_no_change"] = {"seconds": round(repush_s, 3), **again.as_dict()}

            mirror = Catalog(Settings(store=str(root / "mirror"), admin_key=KEY))
            harvester = Harvester(mirror, http=Http(max_retries=2), progress=False)
            try:
                connector = AiodConnector(f"{central.base_url}/v2", page_size=1000)
                pulled = harvester.run(connector)
                again_pull = harvester.run(AiodConnector(f"{central.base_url}/v2", page_size=1000))
            finally:
                harvester.close()
                mirror.close()
            assert pulled.completed, pulled.summary()
            results["pull"] = {
                "seconds": round(pulled.seconds, 2),
                "records_per_s": round(pulled.listed / pulled.seconds),
            }
            results["pull_no_change"] = {"seconds": round(again_pull.seconds, 2)}
    print(describe())
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
