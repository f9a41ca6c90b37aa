"""Push sync's bulk creates (kg/sync/pusher.py -> api/routes/bulk.py) against a real central,
and the AIoD REST API fallback: a central without the bulk route gets one POST per asset."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import orjson
import pytest

from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from kg.settings import Settings
from kg.sync import Pusher
from tests.support.data import ADMIN_KEY, AUTH
from tests.support.server import running_server

pytestmark = [pytest.mark.server]

DATASETS = ASSET_TYPES["datasets"]


def node(root: Path, central: str) -> Catalog:
    return Catalog(
        Settings(
            store=str(root / "node"),
            admin_key=ADMIN_KEY,
            base_url="http://node.example",
            central_url=f"{central}/v2",
            central_token=ADMIN_KEY,
            node_platform="node-b",
            sync_max_retries=1,
            harvest_backoff=0.01,
        )
    )


def on_central(base: str) -> dict[str, str]:
    """``{node identifier: central identifier}`` of what the central holds from node-b."""
    rows = httpx.get(f"{base}/v2/platforms/node-b/datasets?limit=1000", headers=AUTH).json()
    return {r["platform_resource_identifier"]: r["identifier"] for r in rows}


@contextmanager
def aiod_api_without_bulk(central: str) -> Iterator[tuple[str, Counter[str]]]:
    """A real HTTP front of ``central`` that answers 404 on ``/v2/bulk/...`` (as the AIoD REST
    API does: no such route) and forwards the rest; counts ``METHOD /path-prefix``."""
    seen: Counter[str] = Counter()
    client = httpx.Client(base_url=central, timeout=60)

    class Front(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen[f"{self.command} {'/'.join(self.path.split('?')[0].split('/')[:3])}"] += 1
            if self.path.startswith("/v2/bulk/"):
                status, content = 404, b'{"detail": "Not Found"}'
            else:
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                answer = client.request(self.command, self.path, content=body, headers=headers)
                status, content = answer.status_code, answer.content
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PUT = do_DELETE = _forward

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Front)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        client.close()


def test_bulk_route_answers_each_record_and_checks_before_parsing(tmp_path: Path) -> None:
    with running_server(tmp_path / "central") as central:
        url = f"{central.base_url}/v2/bulk/datasets"
        # authorisation before the body is read: a body that is not JSON gets the 401
        assert httpx.post(url, content=b"{not json").status_code == 401
        assert httpx.post(url, content=b"{not json", headers=AUTH).status_code == 400
        assert httpx.post(url, content=b'{"name": "x"}', headers=AUTH).status_code == 400
        assert (
            httpx.post(f"{central.base_url}/v2/bulk/nothing", content=b"[]", headers=AUTH)
        ).status_code == 404
        user = httpx.post(
            f"{central.base_url}/api_keys", headers=AUTH, json={"name": "u", "roles": []}
        ).json()["key"]
        as_user = {"Authorization": f"Bearer {user}"}
        assert httpx.post(url, content=b"{not json", headers=as_user).status_code == 403
        odd = httpx.post(url, content=b"[1, null]", headers=AUTH)
        assert [a["status"] for a in odd.json()] == [422, 422]
        records = [
            {"name": "Bulk one", "platform": "node-b", "platform_resource_identifier": "n1"},
            {"platform": "node-b", "platform_resource_identifier": "n2"},  # no name
            {"name": "Bulk again", "platform": "node-b", "platform_resource_identifier": "n1"},
        ]
        answer = httpx.post(url, content=orjson.dumps(records), headers=AUTH)
        assert answer.status_code == 200, answer.text
        first, invalid, duplicate = answer.json()
        assert first["identifier"].startswith("data_")
        assert invalid["status"] == 422 and any("name" in str(p) for p in invalid["detail"])
        assert duplicate["status"] == 409 and duplicate["existing"] == first["identifier"]
        assert on_central(central.base_url) == {"n1": first["identifier"]}
        got = httpx.get(f"{central.base_url}/v2/datasets/{first['identifier']}", headers=AUTH)
        assert got.json()["name"] == "Bulk one"


def test_push_creates_in_bulk_then_nothing_on_a_rerun(tmp_path: Path) -> None:
    with running_server(tmp_path / "central") as central:
        catalog = node(tmp_path, central.base_url)
        try:
            saved = catalog.save_many(DATASETS, [{"name": f"Node set {i}"} for i in range(600)])
            draft = catalog.create(
                DATASETS, {"name": "Draft set", "aiod_entry": {"status": "draft"}}
            )
            pusher = Pusher(catalog)
            local = saved[0].identifier
            assert local is not None
            pusher.state.set_local_only(local, True)
            first = pusher.run()
            assert pusher.bulk is True
            again = pusher.run()
            pusher.close()
        finally:
            catalog.close()
        assert first.created == 599 and not first.errors and first.stopped is None
        assert again.pushed == 0 and again.unchanged == 599
        held = on_central(central.base_url)
        assert set(held) == {r.identifier for r in saved[1:]}
        assert draft not in held and local not in held


def test_an_aiod_api_central_gets_one_post_per_asset(tmp_path: Path) -> None:
    with (
        running_server(tmp_path / "central") as central,
        aiod_api_without_bulk(central.base_url) as (front, seen),
    ):
        catalog = node(tmp_path, front)
        try:
            saved = catalog.save_many(DATASETS, [{"name": f"Node set {i}"} for i in range(30)])
            pusher = Pusher(catalog)
            report = pusher.run()
            assert pusher.bulk is False
            pusher.close()
        finally:
            catalog.close()
        assert report.created == 30 and not report.errors
        assert seen["POST /v2/datasets"] == 30
        assert 1 <= seen["POST /v2/bulk"] <= pusher.concurrency  # tried once per chunk in flight
        assert set(on_central(central.base_url)) == {r.identifier for r in saved}
