"""Bounded mixed load on loopback (issue 9): wrk against a real ``aiod-kg serve``.

    .venv/bin/python bench/load.py                 # 30 s, 2,000 assets
    .venv/bin/python bench/load.py --seconds 60 --assets 10000

One wrk process per request kind runs at the same time for the same duration, so the server
sees the mix at once: GET of one asset (random), list pages (random offsets), search, SPARQL
(SELECT by IRI and a keyword page), and writes (PUT of random existing assets with the admin
key). Each prints its requests/s, p50/p99 latency and errors (non-2xx answers, socket errors);
the exit status is 1 when any request failed. Debian ``wrk`` is installed when missing and
running as root.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from bench.machine import describe  # noqa: E402
from bench.rest import load_corpus, synthetic_dataset  # noqa: E402
from bench.server import DISCARD, aiod_kg_server  # noqa: E402
from kg.catalog import Catalog  # noqa: E402
from kg.model.fields import ASSET_TYPES  # noqa: E402
from kg.settings import Settings  # noqa: E402

BASE_URL = "http://127.0.0.1:8000"
ADMIN_KEY = "load-admin-key"

LUA = r"""
local items = {ITEMS}
local method, headers = "METHOD", {HEADERS}
local counter = 0
request = function()
  counter = counter + 1
  local item = items[math.random(#items)]
  return wrk.format(method, item[1], headers, item[2])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '@@{"requests": %d, "seconds": %f, "p50": %f, "p99": %f, "max": %f, '
    .. '"status_errors": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0:
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"],
            check=False,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    return found


def lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def script(method: str, items: list[tuple[str, str]], headers: dict[str, str]) -> str:
    rows = ",".join(
        "{" + lua_string(p) + "," + (lua_string(b) if b else "nil") + "}" for p, b in items
    )
    head = "{" + ",".join(f"[ {lua_string(k)} ]={lua_string(v)}" for k, v in headers.items()) + "}"
    return (
        LUA.replace("{ITEMS}", "{" + rows + "}")
        .replace("METHOD", method)
        .replace("{HEADERS}", head)
    )


def build(store: Path, n: int) -> list[str]:
    rng = random.Random(1)
    corpus = load_corpus()
    catalog = Catalog(Settings(store=str(store), base_url=BASE_URL, search_enabled=False))
    ids: list[str] = []
    try:
        for start in range(0, n, 500):
            records = [synthetic_dataset(i, corpus, rng) for i in range(start, min(n, start + 500))]
            ids += [
                str(r.identifier)
                for r in catalog.save_many(ASSET_TYPES["datasets"], records)
                if r.ok
            ]
    finally:
        catalog.close()
    return ids


def kinds(
    ids: list[str], seed: int = 3
) -> dict[str, tuple[str, list[tuple[str, str]], dict[str, str]]]:
    from urllib.parse import quote, urlencode

    rng = random.Random(seed)
    corpus = load_corpus()
    words = [
        w
        for c in corpus[:300]
        for w in str(c.get("name", "")).replace("_", " ").split()
        if w.isalpha()
    ]
    sample = rng.sample(ids, min(300, len(ids)))
    json_accept = {"Accept": "application/json"}
    sparql = []
    for i, identifier in enumerate(sample[:100]):
        iri = f"{BASE_URL}/datasets/{identifier}"
        query = (
            f"SELECT ?p ?o WHERE {{ <{iri}> ?p ?o }}"
            if i % 2
            else "PREFIX dcat: <http://www.w3.org/ns/dcat#> SELECT ?d WHERE { ?d dcat:keyword "
            f'"{rng.choice(words).lower()}" }} LIMIT 20'
        )
        sparql.append(("/sparql", urlencode({"query": query})))
    writes = []
    for i, identifier in enumerate(sample[:200]):
        record = synthetic_dataset(ids.index(identifier), corpus, random.Random(i))
        record["name"] = f"{record['name']} (edited under load)"
        writes.append((f"/datasets/{identifier}", json.dumps(record)))
    return {
        "GET asset": ("GET", [(f"/datasets/{i}", "") for i in sample], json_accept),
        "list page": (
            "GET",
            [(f"/datasets?limit=50&offset={rng.randrange(len(ids))}", "") for _ in range(200)],
            json_accept,
        ),
        "search": (
            "GET",
            [
                (f"/search?q={quote(rng.choice(words))}+{quote(rng.choice(words))}", "")
                for _ in range(200)
            ],
            json_accept,
        ),
        "SPARQL": (
            "POST",
            sparql,
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/sparql-results+json",
            },
        ),
        "write (PUT)": (
            "PUT",
            writes,
            {"Content-Type": "application/json", "Authorization": f"Bearer {ADMIN_KEY}"},
        ),
    }


def mixed_load(
    wrk: str, base: str, ids: list[str], temp: Path, seconds: int, connections: int
) -> tuple[int, bool]:
    """One wrk per request kind at once; prints each one's figures; (errors, healthy after)."""
    httpx.get(f"{base}/search", params={"q": "warm up"}, timeout=300)  # models loaded
    print(
        f"{len(ids):,} datasets; {seconds} s of mixed load, {connections} connection(s) per kind",
        flush=True,
    )
    runs = {}
    for name, (method, items, headers) in kinds(ids).items():
        path = temp / f"{name.split()[0]}.lua"
        path.write_text(script(method, items, headers))
        runs[name] = subprocess.Popen(
            [
                wrk,
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                str(path),
                base,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    failed = 0
    print(
        f"{'kind':<14}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'max ms':>9}{'errors':>8}"
    )
    for name, run in runs.items():
        out, _ = run.communicate(timeout=seconds + 60)
        line = next((x for x in out.splitlines() if x.startswith("@@")), None)
        if line is None:
            print(f"{name}: wrk failed:\n{out}")
            failed += 1
            continue
        r: dict[str, Any] = json.loads(line[2:])
        errors = r["status_errors"] + r["socket_errors"]
        failed += errors
        print(
            f"{name:<14}{r['requests']:>10,}{r['requests'] / r['seconds']:>9.1f}"
            f"{r['p50']:>9.1f}{r['p99']:>9.1f}{r['max']:>9.1f}{errors:>8}"
        )
    alive = httpx.get(f"{base}/health", timeout=10).status_code == 200
    print(f"server healthy after the run: {alive}; errors: {failed}")
    return failed, alive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--assets", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=30, help="at most 60")
    parser.add_argument("--connections", type=int, default=2, help="per request kind")
    args = parser.parse_args()
    seconds = max(1, min(60, args.seconds))
    wrk = ensure_wrk()
    print(describe(("pyoxigraph", "fastapi", "uvicorn", "tantivy")))
    print(subprocess.run([wrk, "--version"], capture_output=True, text=True).stdout.split("\n")[0])
    temp = Path(tempfile.mkdtemp(prefix="aiod-kg-load-"))
    try:
        store = temp / "store"
        ids = build(store, args.assets)
        env = {
            "AIOD_KG_BASE_URL": BASE_URL,
            "AIOD_KG_ADMIN_KEY": ADMIN_KEY,
            "AIOD_KG_WRITE_RATE_LIMIT": "0",
            "AIOD_KG_SEARCH_MODEL": "static",
        }
        with aiod_kg_server(store, env=env, log=DISCARD) as server:
            failed, alive = mixed_load(wrk, server.base_url, ids, temp, seconds, args.connections)
        sys.exit(0 if failed == 0 and alive else 1)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main()
