"""Harvestability at scale: a full harvest of /catalog (DCAT-AP, Hydra pages) and of /oai
(OAI-PMH ListRecords) from a real `aiod-kg serve` process over loopback.

    .venv/bin/python bench/harvestability.py [--assets 100000] [--store DIR]

Loads N public assets (datasets 80 %, ML models 15 %, services 5 %, realistic records with
distributions, keywords, licences) through Catalog.save_many in batches, starts the server
on a free port, then harvests like a harvester: follows `hydra:next` from /catalog until the
end, and follows resumption tokens of ListRecords until the end (oai_dc, oai_datacite,
dcat_ap). Prints records/s for each (goal: >= 2,000 records/s) and the machine.
A `--store` that already holds the assets is reused (no reload).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.server import DISCARD, aiod_kg_server  # noqa: E402
from kg.catalog import Catalog  # noqa: E402
from kg.model.fields import ASSET_TYPES  # noqa: E402
from kg.settings import Settings  # noqa: E402

MIX = (("datasets", 0.80), ("ml_models", 0.15), ("services", 0.05))
WORDS = [
    "vision",
    "language",
    "audio",
    "tabular",
    "graph",
    "medical",
    "climate",
    "finance",
    "robotics",
    "speech",
    "benchmark",
    "federated",
    "privacy",
    "fairness",
    "segmentation",
    "translation",
    "forecasting",
]
LICENSES = (
    "https://creativecommons.org/licenses/by/4.0/",
    "https://creativecommons.org/publicdomain/zero/1.0/",
    "https://spdx.org/licenses/MIT",
)


def record(collection: str, i: int) -> dict[str, object]:
    words = [WORDS[(i * 7 + k) % len(WORDS)] for k in range(4)]
    data: dict[str, object] = {
        "name": f"{words[0].capitalize()} {words[1]} {collection[:-1]} {i}",
        "description": {
            "plain": f"A synthetic {collection[:-1]} about {' and '.join(words)}. "
            f"Record {i} of the harvestability benchmark."
        },
        "platform": ("zenodo", "openml", "huggingface")[i % 3],
        "platform_resource_identifier": f"bench-{collection}-{i}",
        "keyword": words[:3],
        "same_as": f"https://example.org/{collection}/{i}",
        "date_published": f"20{10 + i % 15}-0{1 + i % 9}-1{i % 9}T12:00:00",
        "aiod_entry": {"status": "published"},
    }
    if collection != "services":
        data["license"] = LICENSES[i % len(LICENSES)]
        data["version"] = f"1.{i % 10}"
        data["distribution"] = [
            {
                "content_url": f"https://files.example.org/{collection}/{i}/data.csv",
                "encoding_format": "text/csv",
                "content_size_kb": 100 + i % 5000,
                "checksum": f"{i:064x}",
                "checksum_algorithm": "sha256",
                "name": "data.csv",
            }
        ]
    return data


def load(store: Path, total: int, batch: int = 2000) -> float:
    settings = Settings(store=str(store), base_url="http://127.0.0.1:8000")
    catalog = Catalog(settings)
    try:
        if sum(sum(v.values()) for v in catalog.counts().values()) >= total:
            print(f"store {store} already holds the assets: reused")
            return 0.0
        started = time.perf_counter()
        for collection, share in MIX:
            count = int(total * share)
            for start in range(0, count, batch):
                items = [record(collection, i) for i in range(start, min(count, start + batch))]
                results = catalog.save_many(ASSET_TYPES[collection], items, mode="create")
                bad = [r for r in results if not r.ok]
                if bad:
                    raise SystemExit(f"load failed: {bad[0]}")
            print(f"  loaded {count} {collection}", flush=True)
        return time.perf_counter() - started
    finally:
        catalog.close()


_NEXT = re.compile(rb"hydra:next <([^>]+)>")
_ITEM = re.compile(rb"dcat:(?:dataset|service) <")
_TOKEN = re.compile(rb"<resumptionToken[^>]*>([^<]+)</resumptionToken>")


def harvest_catalog(http: httpx.Client, base: str, page_size: int) -> tuple[int, int, float]:
    url: str | None = f"{base}/catalog?page_size={page_size}"
    records = pages = 0
    started = time.perf_counter()
    while url:
        response = http.get(url, headers={"Accept": "text/turtle"})
        response.raise_for_status()
        body = response.content
        pages += 1
        records += len(_ITEM.findall(body))
        found = _NEXT.search(body)
        url = found.group(1).decode().replace("&amp;", "&") if found else None
    return records, pages, time.perf_counter() - started


def harvest_oai(http: httpx.Client, base: str, prefix: str) -> tuple[int, int, float]:
    params: dict[str, str] = {"verb": "ListRecords", "metadataPrefix": prefix}
    records = pages = 0
    started = time.perf_counter()
    while True:
        response = http.get(f"{base}/oai", params=params)
        response.raise_for_status()
        body = response.content
        pages += 1
        records += body.count(b"<record>")
        found = _TOKEN.search(body)
        if not found:
            break
        params = {"verb": "ListRecords", "resumptionToken": found.group(1).decode()}
    return records, pages, time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (load-independent, unlike wall time)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(label: str, records: int, pages: int, took: float, cpu: float) -> None:
    print(
        f"{label:<26} {records:>7} records {pages:>5} pages {took:7.1f} s "
        f"{records / took:8,.0f} records/s wall | server CPU {cpu:6.1f} s "
        f"{records / max(cpu, 1e-9):8,.0f} records/CPU-s"
    )


def machine() -> str:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        memory = f"{int(mem) / 1024 / 1024:.1f} GiB"
    except OSError:
        memory = "unknown"
    versions = ", ".join(
        f"{p} {metadata.version(p)}"
        for p in ("pyoxigraph", "fastapi", "uvicorn", "httpx", "orjson")
    )
    return (
        f"machine: {os.cpu_count()} CPUs ({model}), {memory}; python "
        f"{platform.python_version()}; {versions}; load average "
        f"{os.getloadavg()[0]:.1f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--assets", type=int, default=100_000)
    parser.add_argument("--store", help="store directory (kept; reused when already loaded)")
    parser.add_argument("--page-sizes", default="100,1000", help="/catalog page sizes")
    parser.add_argument("--formats", default="oai_dc,oai_datacite,dcat_ap")
    args = parser.parse_args()
    print(machine())
    temp = None
    if args.store:
        store = Path(args.store)
    else:
        temp = tempfile.mkdtemp(prefix="aiodkg-harvest-")
        store = Path(temp) / "store"
    try:
        print(f"loading {args.assets} assets into {store} ...", flush=True)
        seconds = load(store, args.assets)
        if seconds:
            print(
                f"load: {args.assets} assets in {seconds:.1f} s "
                f"({args.assets / seconds:,.0f} assets/s, save_many batches of 2000)"
            )
        # The search index is off: on first start over a freshly loaded store it would embed
        # all the assets in the background and take the CPU this benchmark measures.
        with (
            aiod_kg_server(
                store, env={"AIOD_KG_SEARCH_ENABLED": "false"}, log=DISCARD, ready_timeout=120
            ) as server,
            httpx.Client(timeout=300) as http,
        ):
            process, base = server.process, server.base_url
            http.get(f"{base}/catalog?page_size=1")  # warm-up
            for size in (int(s) for s in args.page_sizes.split(",")):
                cpu = cpu_seconds(process.pid)
                records, pages, took = harvest_catalog(http, base, size)
                cpu = cpu_seconds(process.pid) - cpu
                report(f"/catalog page_size={size}", records, pages, took, cpu)
            for prefix in args.formats.split(","):
                cpu = cpu_seconds(process.pid)
                records, pages, took = harvest_oai(http, base, prefix)
                cpu = cpu_seconds(process.pid) - cpu
                report(f"/oai ListRecords {prefix}", records, pages, took, cpu)
    finally:
        if temp:
            shutil.rmtree(temp, ignore_errors=True)
    print(machine())
    return 0


if __name__ == "__main__":
    sys.exit(main())
