"""List pages queued in front of the catalogue index (``api.deps.page_slots``): many at once
answer exactly what one at a time answers, shallow and past ``DEEP_OFFSET``, and an app served
again on a new event loop (a second lifespan) queues there without error."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from kg.settings import Settings
from kg.store.index import DEEP_OFFSET

ASSETS = DEEP_OFFSET + 300
OFFSETS = [0, 150, DEEP_OFFSET - 50, DEEP_OFFSET, DEEP_OFFSET + 123, ASSETS - 40]


def _dataset(n: int) -> dict[str, object]:
    return {
        "name": f"paged dataset {n:05d}",
        "platform": "example",
        "platform_resource_identifier": f"page-{n}",
        "aiod_entry": {"status": "published"},
    }


def _page(client: TestClient, offset: int, descending: bool = False) -> list[str]:
    params: dict[str, str | int] = {"offset": offset, "limit": 100}
    if descending:
        params.update(sort="name", direction="desc")
    answer = client.get("/datasets", params=params)
    assert answer.status_code == 200, answer.text
    return [item["identifier"] for item in answer.json()]


def test_pages_read_at_once_equal_pages_read_one_by_one(tmp_path: Path) -> None:
    settings = Settings(store=str(tmp_path / "store"), search_enabled=False, linking_enabled=False)
    catalog = Catalog(settings)
    try:
        results = catalog.save_many(ASSET_TYPES["datasets"], [_dataset(n) for n in range(ASSETS)])
        assert all(result.ok for result in results)
        app = create_app(settings, catalog)
        requests = [(offset, way) for offset in OFFSETS for way in (False, True)] * 4
        for _ in range(2):  # two lifespans: the second serves on a new event loop
            with TestClient(app) as client:
                alone = {(o, s): _page(client, o, s) for o, s in set(requests)}
                with ThreadPoolExecutor(16) as pool:
                    together = list(pool.map(lambda r: _page(client, *r), requests))
                assert together == [alone[r] for r in requests]
        assert len(alone[(ASSETS - 40, False)]) == 40
        assert alone[(0, False)][0] == results[0].identifier
        assert alone[(0, True)][0] == results[-1].identifier  # by name, descending
        assert alone[(DEEP_OFFSET, True)][0] == results[ASSETS - 1 - DEEP_OFFSET].identifier
    finally:
        catalog.close()
