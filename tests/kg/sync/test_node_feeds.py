"""A node's local-only assets stay out of every feed a central reads (kg/publishing)."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import pytest

from tests.support.data import AUTH
from tests.support.server import running_server

pytestmark = [pytest.mark.server]

MARKER = "LOCAL-FEED-MARKER-3b8e"


def feeds(http: httpx.Client) -> str:
    """Every bulk channel of the node a central (or any harvester) reads."""
    parts = [http.get("/catalog?format=turtle").text, http.get("/sitemap.xml").text]
    for verb in ("ListRecords", "ListIdentifiers"):
        parts.append(http.get("/oai", params={"verb": verb, "metadataPrefix": "oai_dc"}).text)
    parts.append(gzip.decompress(http.get("/dumps/catalog.nq.gz").content).decode())
    return "\n".join(parts)


def test_local_only_assets_never_reach_the_node_feeds(tmp_path: Path) -> None:
    env = {
        "AIOD_KG_CENTRAL_URL": "http://127.0.0.1:9/v2",  # never called here
        "AIOD_KG_CENTRAL_TOKEN": "unused",
        "AIOD_KG_NODE_PLATFORM": "node-feeds",
    }
    with (
        running_server(tmp_path / "node", env=env) as node,
        httpx.Client(base_url=node.base_url, headers=AUTH) as http,
    ):
        shared = http.post("/v2/datasets", json={"name": "Shared feed dataset"}).json()
        local = http.post("/v2/datasets", json={"name": MARKER}).json()["identifier"]
        before = feeds(http)
        assert MARKER in before and local in before  # published: listed until marked
        assert http.put(f"/node/local_only/{local}").status_code == 200
        after = feeds(http)
        assert "Shared feed dataset" in after and shared["identifier"] in after
        assert MARKER not in after and local not in after

        def get_record(identifier: str) -> str:
            params = {"verb": "GetRecord", "metadataPrefix": "oai_dc"}
            return http.get(
                "/oai", params={**params, "identifier": f"oai:127.0.0.1:{identifier}"}
            ).text

        assert "Shared feed dataset" in get_record(shared["identifier"])
        record = get_record(local)
        assert "idDoesNotExist" in record and MARKER not in record
        # the node's own users still see it
        assert http.get(f"/v2/datasets/{local}").json()["name"] == MARKER
        assert http.delete(f"/node/local_only/{local}").status_code == 200
        assert MARKER in feeds(http)
