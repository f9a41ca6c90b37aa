"""Two AIoD nodes and their central: three real ``aiod-kg serve`` processes on loopback
(issue 16). The nodes push with ``serve --sync-every``; the test only talks to them as users
do and watches the central converge.

Both nodes start from the same seed store (one dataset: the same identifier on both, an
identifier collision), then each shares, edits, deletes, unshares, keeps assets local-only
and drafts. The central must hold each node's shared assets under that node's platform (the
seed twice, once per node), follow edits and deletions of one node without touching the
other's, lose nothing while it is down, keep one asset when it also harvests a node's DCAT
catalogue, and show no marker of a local-only, draft or unshared asset on any channel.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.data import ADMIN_KEY, AUTH, REPO
from tests.support.server import LiveServer, free_port, running_server

pytestmark = [pytest.mark.server, pytest.mark.slow]

NODES = ("node-east", "node-west")
WORD = "quokkanode"  # in every shared name: what /search on the central is asked
SECRET = {  # never on the central
    "local": "LOCAL-3N-MARKER-5d1e",
    "draft": "DRAFT-3N-MARKER-a07c",
    "unshared": "UNSHARED-3N-MARKER-e41b",
}
WAIT = 120.0  # seconds a convergence may take on a loaded machine


def central_env() -> dict[str, str]:
    return {"AIOD_KG_SEARCH_MODEL": "static", "AIOD_KG_SEARCH_WARMUP": "false"}


def node_env(central_url: str, platform: str) -> dict[str, str]:
    return {
        "AIOD_KG_CENTRAL_URL": f"{central_url}/v2",
        "AIOD_KG_CENTRAL_TOKEN": ADMIN_KEY,
        "AIOD_KG_NODE_PLATFORM": platform,
        "AIOD_KG_SYNC_MAX_RETRIES": "1",
        "AIOD_KG_HARVEST_BACKOFF": "0.01",
        "AIOD_KG_SEARCH_ENABLED": "false",
    }


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "AIOD_KG_ADMIN_KEY": ADMIN_KEY, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def until(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"the central did not converge: {what}")
        time.sleep(0.3)


def held(central: httpx.Client, platform: str) -> dict[str, dict[str, Any]]:
    """``{node identifier: central record}`` of every dataset the central holds from
    ``platform``; fails on a duplicate."""
    out: dict[str, dict[str, Any]] = {}
    offset = 0
    while True:
        page = central.get(f"/v2/platforms/{platform}/datasets?offset={offset}&limit=500").json()
        for record in page:
            key = record["platform_resource_identifier"]
            assert key not in out, f"{platform}/{key} twice on the central"
            out[key] = record
        if len(page) < 500:
            return out
        offset += len(page)


def names(central: httpx.Client, platform: str) -> dict[str, str]:
    return {k: v["name"] for k, v in held(central, platform).items()}


def search_text(central: httpx.Client, query: str) -> str:
    deadline = time.monotonic() + WAIT
    while True:  # 503 while the central's index catches up with its catalogue
        response = central.get("/search", params={"q": query, "limit": 100}, timeout=60)
        if response.status_code != 503 or time.monotonic() > deadline:
            assert response.status_code == 200, response.text
            return json.dumps(response.json()["items"])  # the hits (the answer echoes q)
        time.sleep(0.5)


def channels(central: httpx.Client) -> str:
    """Everything the central publishes: REST (admin), /sparql (admin), /catalog, OAI-PMH,
    the dump and /search."""
    parts = [central.get("/v2/datasets?limit=1000", headers=AUTH).text]
    for platform in NODES:
        parts.append(central.get(f"/v2/platforms/{platform}/datasets?limit=1000").text)
    parts.append(
        central.get(
            "/sparql",
            params={"query": "SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }"},
            headers={"Accept": "application/sparql-results+json", **AUTH},
        ).text
    )
    parts.append(central.get("/catalog?format=turtle").text)
    for verb in ("ListRecords", "ListIdentifiers"):
        parts.append(central.get("/oai", params={"verb": verb, "metadataPrefix": "oai_dc"}).text)
    parts.append(gzip.decompress(central.get("/dumps/catalog.nq.gz").content).decode())
    parts += [search_text(central, q) for q in (WORD, *SECRET.values())]
    return "\n".join(parts)


@contextmanager
def three(
    tmp: Path, ports: dict[str, int], nodes_sync: bool = True
) -> Iterator[dict[str, LiveServer]]:
    central_url = f"http://127.0.0.1:{ports['central']}"
    with ExitStack() as stack:
        live = {
            "central": stack.enter_context(
                running_server(tmp / "central", port=ports["central"], env=central_env())
            )
        }
        for platform in NODES:
            live[platform] = stack.enter_context(
                running_server(
                    tmp / platform,
                    port=ports[platform],
                    env=node_env(central_url, platform),
                    args=["--sync-every", "1s"] if nodes_sync else [],
                )
            )
        yield live


def test_two_nodes_and_a_central(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("central", *NODES)}
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    # one seed store copied to both nodes: the seed dataset has the same identifier on each
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps([{"name": f"Seed {WORD} dataset"}]))
    cli(
        {"AIOD_KG_STORE": str(tmp_path / "node-east"), "AIOD_KG_BASE_URL": url["node-east"]},
        "import",
        str(seed),
        "--type",
        "datasets",
    )
    shutil.copytree(tmp_path / "node-east", tmp_path / "node-west")

    mine: dict[str, dict[str, str]] = {}  # per node: role -> identifier
    with three(tmp_path, ports, nodes_sync=False) as live:  # set-up before any sync
        for platform in NODES:
            with httpx.Client(base_url=live[platform].base_url, headers=AUTH, timeout=60) as node:

                def make(name: str, **extra: Any) -> str:
                    made = node.post("/v2/datasets", json={"name": name, **extra})
                    assert made.status_code == 200, made.text
                    return str(made.json()["identifier"])

                (seed_id,) = [d["identifier"] for d in node.get("/v2/datasets").json()]
                roles = {
                    "seed": seed_id,
                    "shared": make(f"{platform} {WORD} shared"),
                    "edited": make(f"{platform} {WORD} to edit"),
                    "deleted": make(f"{platform} {WORD} to delete"),
                    "unshared": make(f"{platform} {WORD} {SECRET['unshared']}"),
                    "local": make(f"{platform} {WORD} {SECRET['local']}"),
                    "draft": make(
                        f"{platform} {WORD} {SECRET['draft']}", aiod_entry={"status": "draft"}
                    ),
                }
                assert node.put(f"/node/local_only/{roles['local']}").status_code == 200
                mine[platform] = roles
    east, west = mine["node-east"], mine["node-west"]
    assert east["seed"] == west["seed"]  # the collision
    assert len({*east.values()} - {east["seed"]}) == len({*west.values()} - {west["seed"]}) == 6

    shared_roles = ("seed", "shared", "edited", "deleted", "unshared")
    with (
        three(tmp_path, ports) as live,
        httpx.Client(base_url=url["central"], timeout=60) as central,
    ):
        for platform in NODES:
            expected = {mine[platform][r] for r in shared_roles}

            def shares(p: str = platform, e: set[str] = expected) -> bool:
                return set(held(central, p)) == e

            until(shares, f"{platform} shares")
        # the collision stays two assets, one per node
        seeds = [held(central, p)[east["seed"]]["identifier"] for p in NODES]
        assert seeds[0] != seeds[1]

        # edits, deletions and unsharing on each node; the other node's copies stay
        for platform in NODES:
            with httpx.Client(base_url=url[platform], headers=AUTH, timeout=60) as node:
                ids = mine[platform]
                edit = node.put(
                    f"/v2/datasets/{ids['edited']}", json={"name": f"{platform} edited"}
                )
                assert edit.status_code == 200, edit.text
                assert node.delete(f"/v2/datasets/{ids['deleted']}").status_code == 200
                assert node.put(f"/node/local_only/{ids['unshared']}").status_code == 200
        with httpx.Client(base_url=url["node-west"], headers=AUTH, timeout=60) as node:
            assert node.delete(f"/v2/datasets/{west['seed']}").status_code == 200
        for platform in NODES:
            ids = mine[platform]
            kept = {ids["shared"], ids["edited"]} | (
                {ids["seed"]} if platform == "node-east" else set()
            )

            def converged(
                p: str = platform, ids: dict[str, str] = ids, kept: set[str] = kept
            ) -> bool:
                now = names(central, p)
                return set(now) == kept and now[ids["edited"]] == f"{p} edited"

            until(converged, f"{platform} edits, deletions, unsharing")
        assert central.get(f"/v2/datasets/{seeds[0]}").status_code == 200  # east's seed stays
        assert central.get(f"/v2/datasets/{seeds[1]}").status_code == 404

        # the central goes down; node-west changes meanwhile, its sync runs stop (a warning)
        live["central"].process.terminate()
        live["central"].process.wait(30)
        runs = live["node-west"].output().count("stopped:")
        with httpx.Client(base_url=url["node-west"], headers=AUTH, timeout=60) as node:
            offline = node.post("/v2/datasets", json={"name": f"west {WORD} made offline"})
            offline_id = offline.json()["identifier"]
            assert (
                node.put(
                    f"/v2/datasets/{west['shared']}", json={"name": "west edited offline"}
                ).status_code
                == 200
            )
        until(lambda: live["node-west"].output().count("stopped:") >= runs + 2, "runs fail")
        # meanwhile the central also harvests node-east's DCAT catalogue (its store is free)
        harvest = cli(
            {"AIOD_KG_STORE": str(tmp_path / "central"), "AIOD_KG_BASE_URL": url["central"]},
            "harvest",
            "dcat",
            "--base-url",
            f"{url['node-east']}/catalog",
            "--json",
        )
        assert json.loads(harvest.stdout)["completed"], harvest.stdout
        with running_server(tmp_path / "central", port=ports["central"], env=central_env()):
            wanted = {west["shared"], west["edited"], offline_id}
            # the push may bring the new asset before the edit: wait for both
            until(
                lambda: (
                    set(names(central, "node-west")) == wanted
                    and names(central, "node-west")[west["shared"]] == "west edited offline"
                ),
                "nothing lost",
            )
            # push + DCAT harvest of node-east: still one asset each
            east_now = held(central, "node-east")
            assert set(east_now) == {east["seed"], east["shared"], east["edited"]}
            total = central.get("/v2/counts/datasets").json()
            assert total == 3 + 3, total  # east 3, west 3: nothing harvested twice

            until(lambda: "node-east quokkanode shared" in search_text(central, WORD), "search")
            text = channels(central)
            assert f"{WORD} shared" in text and "west edited offline" in text  # channels answer
            for marker in SECRET.values():
                assert marker not in text, marker
            for platform in NODES:  # nor any identifier of them
                for role in ("local", "draft", "unshared"):
                    assert mine[platform][role] not in text
