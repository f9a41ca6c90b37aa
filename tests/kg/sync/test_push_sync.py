"""Push sync (kg/sync) between two real aiod-kg processes: a node and its central."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.data import ADMIN_KEY, AUTH, REPO
from tests.support.server import free_port, running_server

pytestmark = [pytest.mark.server, pytest.mark.slow]

LOCAL_MARKER = "LOCAL-ONLY-MARKER-7f3a"
DRAFT_MARKER = "DRAFT-MARKER-91c2"


def node_env(central: str) -> dict[str, str]:
    return {
        "AIOD_KG_CENTRAL_URL": f"{central}/v2",
        "AIOD_KG_CENTRAL_TOKEN": ADMIN_KEY,
        "AIOD_KG_NODE_PLATFORM": "node-a",
        "AIOD_KG_SYNC_MAX_RETRIES": "1",
        "AIOD_KG_HARVEST_BACKOFF": "0.01",
    }


def sync(store: Path, base: str, central: str) -> tuple[int, dict[str, Any]]:
    """``aiod-kg sync --json`` on the node's store, as an operator runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "sync", "--json"],
        cwd=REPO,
        env={
            "PATH": "/usr/bin:/bin",
            "AIOD_KG_STORE": str(store),
            "AIOD_KG_BASE_URL": base,
            "AIOD_KG_ADMIN_KEY": ADMIN_KEY,
            **node_env(central),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout)


def central_text(http: httpx.Client) -> str:
    """What the central publishes on every channel a reader (or its admin) has."""
    parts = [http.get("/v2/datasets?limit=1000", headers=AUTH).text]
    parts.append(http.get("/catalog?format=turtle").text)
    parts.append(http.get("/oai", params={"verb": "ListRecords", "metadataPrefix": "oai_dc"}).text)
    parts.append(
        http.get(
            "/sparql",
            params={"query": "SELECT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }"},
            headers={"Accept": "application/sparql-results+json", **AUTH},
        ).text
    )
    return "\n".join(parts)


def test_node_pushes_shared_assets_and_the_central_follows(tmp_path: Path) -> None:
    node_store, central_store = tmp_path / "node", tmp_path / "central"
    central_port, node_port = free_port(), free_port()
    central_url = f"http://127.0.0.1:{central_port}"
    node_url = f"http://127.0.0.1:{node_port}"
    with running_server(central_store, port=central_port) as central:
        with (
            running_server(node_store, port=node_port, env=node_env(central_url)),
            httpx.Client(base_url=node_url, headers=AUTH) as node,
        ):
            person = node.post("/v2/persons", json={"name": "Ada Lovelace"}).json()["identifier"]
            shared = node.post(
                "/v2/datasets", json={"name": "Shared dataset", "creator": [person]}
            ).json()["identifier"]
            gone = node.post("/v2/datasets", json={"name": "Shared, then deleted"}).json()
            local = node.post("/v2/datasets", json={"name": LOCAL_MARKER}).json()["identifier"]
            draft = node.post(
                "/v2/datasets", json={"name": DRAFT_MARKER, "aiod_entry": {"status": "draft"}}
            )
            assert draft.status_code == 200, draft.text
            harvested = node.post(
                "/v2/datasets",
                json={
                    "name": "From Zenodo",
                    "platform": "zenodo",
                    "platform_resource_identifier": "7",
                },
            )
            assert harvested.status_code == 200
            marked = node.put(f"/node/local_only/{local}")
            assert marked.json() == {"identifier": local, "local_only": True}
            assert httpx.put(f"{node_url}/node/local_only/{local}").status_code == 401
        code, report = sync(node_store, node_url, central_url)
        assert code == 0 and report["created"] == 3, report  # person + two datasets
        with httpx.Client(base_url=central_url) as http:
            pushed = http.get(f"/v2/platforms/node-a/datasets/{shared}").json()
            assert pushed["name"] == "Shared dataset"
            (creator,) = pushed["creator"]
            assert http.get(f"/v2/persons/{creator}").json()["platform_resource_identifier"] == (
                person
            )
            text = central_text(http)
            assert "Shared dataset" in text  # the channels answer
            assert LOCAL_MARKER not in text and DRAFT_MARKER not in text
            assert "From Zenodo" not in text  # not the node's own: not the node's to push
            # a second run changes nothing
            code, again = sync(node_store, node_url, central_url)
            assert code == 0 and again["created"] == again["updated"] == again["deleted"] == 0
            assert again["unchanged"] == 3

            with (
                running_server(node_store, port=node_port, env=node_env(central_url)),
                httpx.Client(base_url=node_url, headers=AUTH) as node,
            ):
                edit = node.put(f"/v2/datasets/{shared}", json={"name": "Shared dataset, edited"})
                assert edit.status_code == 200, edit.text
                assert node.delete(f"/v2/datasets/{gone['identifier']}").status_code == 200
            code, third = sync(node_store, node_url, central_url)
            assert code == 0 and third["updated"] == 1 and third["deleted"] == 1, third
            assert (
                http.get(f"/v2/platforms/node-a/datasets/{shared}")
                .json()["name"]
                .endswith("edited")
            )
            lost = http.get(f"/v2/platforms/node-a/datasets/{gone['identifier']}")
            assert lost.status_code == 404

    # the central is down: the run stops, nothing is marked pushed
    with (
        running_server(node_store, port=node_port, env=node_env(central_url)),
        httpx.Client(base_url=node_url, headers=AUTH) as node,
    ):
        assert (
            node.put(f"/v2/datasets/{shared}", json={"name": "Edited offline"}).status_code == 200
        )
    code, down = sync(node_store, node_url, central_url)
    assert code == 1 and down["stopped"] and down["updated"] == 0, down
    with running_server(central_store, port=central_port) as central:
        code, back = sync(node_store, node_url, central_url)
        assert code == 0 and back["updated"] == 1, back
        with httpx.Client(base_url=central.base_url) as http:
            answer = http.get(f"/v2/platforms/node-a/datasets/{shared}").json()
            assert answer["name"] == "Edited offline"
