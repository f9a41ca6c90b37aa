"""Harvest benchmark (issue 4): the real connectors against scaled-up fixture payloads.

A replay of api/demo/recorded (``api.demo.replay``) runs in its own process on loopback and
serves N copies of the recorded OpenML datasets, Hugging Face datasets (with parquet files),
Zenodo OAI-PMH records (with files) and a generated DCAT-AP catalogue. Each connector then
harvests into a fresh embedded store: end-to-end records/s (fetch + map + validate + write,
fetching one page ahead in a thread) and the share of busy time per stage.

    .venv/bin/python bench/harvest.py                  # 12,500 records per platform (50,000)
    .venv/bin/python bench/harvest.py --records 2000 --rerun
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.machine import describe  # noqa: E402
from bench.server import free_port, stop  # noqa: E402
from kg.catalog import Catalog  # noqa: E402
from kg.harvest import Harvester, HarvestReport, Http  # noqa: E402
from kg.settings import Settings  # noqa: E402
from mappings.base import BaseConnector  # noqa: E402
from mappings.dcat import DcatConnector  # noqa: E402
from mappings.huggingface import HuggingFaceConnector  # noqa: E402
from mappings.openml import OpenMLConnector  # noqa: E402
from mappings.zenodo import ZenodoConnector  # noqa: E402

GOAL = 500.0  # records/s
ZENODO_SINCE = datetime(2023, 5, 1, tzinfo=UTC)
ZENODO_UNTIL = datetime(2024, 3, 1, tzinfo=UTC)


def start_replay(records: int, page: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.demo.replay",
            "--port",
            str(port),
            "--scale",
            str(records),
            "--oai-page-size",
            str(page),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, url
        except OSError:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                raise RuntimeError(output) from None
            time.sleep(0.1)
    raise TimeoutError("the replay did not start")


def connectors(url: str, page: int, kg_base: str) -> list[tuple[BaseConnector, Any]]:
    hours = (ZENODO_UNTIL - ZENODO_SINCE).total_seconds() / 3600
    return [
        (OpenMLConnector(f"{url}/openml/api/v1/json", page, phases=("data",)), None),
        (
            HuggingFaceConnector(
                f"{url}/huggingface", f"{url}/huggingface", page, phases=("datasets",)
            ),
            None,
        ),
        (ZenodoConnector(f"{url}/zenodo", hours, now=ZENODO_UNTIL), ZENODO_SINCE),
        (DcatConnector(f"{url}/dcat/catalog?size={page}", kg_base=kg_base), None),
    ]


def line(report: HarvestReport) -> str:
    shares = report.stage_shares()
    written = report.total("created") + report.total("updated")
    return (
        f"{report.connector:<12} {report.listed:>7} records {written:>7} assets written"
        f" {report.seconds:>7.1f} s {report.records_per_second:>7.0f} rec/s  "
        + "  ".join(f"{k} {v:>4.0%}" for k, v in shares.items())
        + (f"  errors {report.error_count}" if report.error_count else "")
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=12_500, help="upstream records/platform")
    parser.add_argument("--page", type=int, default=100, help="records per upstream page")
    parser.add_argument("--concurrency", type=int, default=8, help="per-record requests")
    parser.add_argument("--rerun", action="store_true", help="harvest again (all unchanged)")
    parser.add_argument("--keep", help="keep the store in this directory")
    args = parser.parse_args()

    print(describe(("pyoxigraph", "rdflib", "pyshacl", "httpx", "orjson")))
    print(
        f"harvest: {args.records} upstream records per platform, pages of {args.page},"
        f" {args.concurrency} parallel per-record requests; replay in its own process"
    )
    replay, url = start_replay(args.records, args.page)
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-harvest-"))
    settings = Settings(store=str(folder / "store"), harvest_concurrency=args.concurrency)
    catalog = Catalog(settings)
    http = Http(timeout=60, max_retries=3, backoff=0.1, concurrency=args.concurrency)
    harvester = Harvester(catalog, http=http, progress=None)
    reports: list[HarvestReport] = []
    try:
        for connector, since in connectors(url, args.page, catalog.base_url):
            report = harvester.run(connector, since=since)
            reports.append(report)
            print(line(report), flush=True)
        if args.rerun:
            print("again (nothing changed upstream):")
            for connector, since in connectors(url, args.page, catalog.base_url):
                print(line(harvester.run(connector, since=since)), flush=True)
    finally:
        harvester.close()
        http.close()
        catalog.close()
        stop(replay, timeout=10)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)

    listed = sum(r.listed for r in reports)
    seconds = sum(r.seconds for r in reports)
    written = sum(r.total("created") + r.total("updated") for r in reports)
    stages = {k: sum(r.stages[k] for r in reports) for k in reports[0].stages}
    busy = sum(stages.values()) or 1.0
    rate = listed / seconds if seconds else 0.0
    print(
        f"{'total':<12} {listed:>7} records {written:>7} assets written {seconds:>7.1f} s"
        f" {rate:>7.0f} rec/s  " + "  ".join(f"{k} {v / busy:>4.0%}" for k, v in stages.items())
    )
    print(f"goal >= {GOAL:.0f} records/s: {'met' if rate >= GOAL else 'NOT met'}")
    results = REPO / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "harvest.json").write_text(
        json.dumps(
            {
                "records_per_second": rate,
                "records": listed,
                "assets_written": written,
                "seconds": seconds,
                "stages": stages,
                "reports": [r.as_dict() for r in reports],
            },
            indent=2,
            default=str,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
