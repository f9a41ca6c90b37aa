"""The demo catalog names its platforms as the AIoD REST API does: after the demo harvest,
``GET /platforms`` has a record for ``aiod`` and for every platform that an asset names, and
loading again neither harvests nor adds a second record of any platform; ``/counts`` counts the
types whose records name a platform, as AIoD's counts its concepts."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.demo.catalog import add_platform_records, load_demo_catalog
from kg.catalog import Catalog
from kg.settings import Settings


def test_every_platform_of_the_demo_has_a_platform_record(tmp_path: Path) -> None:
    settings = Settings(store=str(tmp_path / "store"), search_enabled=False)
    catalog = Catalog(settings)
    try:
        assert load_demo_catalog(catalog) > 100
        with TestClient(create_app(settings, catalog)) as client:
            counts = client.get("/counts").json()
            assert "platforms" not in counts  # as AIoD: the types whose records name a platform
            named = {platform for found in counts.values() for platform in found}
            assert {"openml", "huggingface", "zenodo", "tensorflow_datasets"} <= named
            listed = client.get("/platforms", params={"limit": 100}).json()
            names = [record["name"] for record in listed]
            assert sorted(names) == sorted(named | {"aiod"})
            assert client.get("/counts/platforms").json() == len(listed)
            detailed = client.get("/counts/platforms", params={"detailed": "true"}).json()
            assert detailed == {"aiod": len(listed)}  # a record without a platform: "aiod"
            one = client.get(f"/platforms/{listed[0]['identifier']}").json()
            assert one["name"] == listed[0]["name"]
        assert load_demo_catalog(catalog) == 0  # not empty: nothing harvested again
        assert add_platform_records(catalog) == 0  # every platform already has its record
    finally:
        catalog.close()
