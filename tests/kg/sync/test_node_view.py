"""A node's /search: merged (its own and the mirrored central catalogue) or local only, each
hit saying where it comes from (kg/sync/view.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.data import AUTH
from tests.support.server import running_server

pytestmark = [pytest.mark.server, pytest.mark.slow]

WORD = "zygomorphic"


def node_env(view: str) -> dict[str, str]:
    return {
        "AIOD_KG_CENTRAL_URL": "http://127.0.0.1:9/v2",  # never called here
        "AIOD_KG_CENTRAL_TOKEN": "unused",
        "AIOD_KG_NODE_PLATFORM": "node-v",
        "AIOD_KG_AIOD_PLATFORM": "aiod-central",
        "AIOD_KG_NODE_VIEW": view,
    }


def hits(http: httpx.Client, expected: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while True:  # the search index follows the writes (503 while it catches up on start)
        response = http.get("/search", params={"q": WORD}, timeout=60)
        if response.status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.5)
            continue
        items: list[dict[str, Any]] = response.json()["items"]
        if len(items) >= expected or time.monotonic() > deadline:
            return items
        time.sleep(0.2)


def test_merged_and_local_views(tmp_path: Path) -> None:
    store = tmp_path / "node"
    with (
        running_server(store, env=node_env("merged")) as node,
        httpx.Client(base_url=node.base_url, headers=AUTH) as http,
    ):
        own = http.post("/v2/datasets", json={"name": f"Own {WORD} data"}).json()["identifier"]
        mirrored = http.post(
            "/v2/datasets",
            json={
                "name": f"Central {WORD} data",
                "platform": "aiod-central",  # as `harvest aiod` writes the central's own
                "platform_resource_identifier": "data_abc",
            },
        ).json()["identifier"]
        found = {h["identifier"]: h for h in hits(http, 2)}
        assert found[own]["origin"] == "node" and found[own]["platform"] == "node-v"
        assert found[mirrored]["origin"] == "central"
        assert found[mirrored]["platform"] == "aiod-central"
    with (
        running_server(store, env=node_env("local")) as node,
        httpx.Client(base_url=node.base_url, headers=AUTH) as http,
    ):
        assert [h["identifier"] for h in hits(http, 1)] == [own]
