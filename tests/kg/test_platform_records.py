"""Platform records (kg/platform_records.py): a harvest records the platforms of the assets it
writes, once each, as the AIoD REST API's platform table names them; records made by hand are
kept; names that are blank or not valid platform names are skipped without failing anything."""

from __future__ import annotations

from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from kg.platform_records import add_platform_records, recorded_platforms
from mappings.openml import OpenMLConnector
from mappings.zenodo import ZenodoConnector
from tests.support.harvest import harvester, replay

PLATFORMS = ASSET_TYPES["platforms"]


def platform_names(catalog: Catalog) -> list[str]:
    return sorted(str(row["name"]) for row in catalog.list(PLATFORMS, 0, 1000))


def test_a_harvest_records_its_platforms_once(catalog: Catalog) -> None:
    assert platform_names(catalog) == []
    by_hand = catalog.create(PLATFORMS, {"name": "zenodo"})
    with replay() as server:
        run = harvester(catalog)
        try:
            first = run.run(OpenMLConnector(server.openml_url, page_size=2))
            assert first.total("created") > 0
            assert platform_names(catalog) == ["openml", "zenodo"]
            zenodo = run.run(ZenodoConnector(server.zenodo_url, 24 * 365 * 3), since=None)
            assert zenodo.total("created") > 0
            again = run.run(OpenMLConnector(server.openml_url, page_size=2))
            assert again.total("created") == 0
        finally:
            run.close()
    # every platform that an asset names has exactly one record; the one made by hand is kept
    named = {platform for found in catalog.counts().values() for platform in found} - {""}
    assert platform_names(catalog) == sorted(named)
    assert catalog.get(PLATFORMS, by_hand)["name"] == "zenodo"


def test_blank_invalid_and_known_names_are_skipped(catalog: Catalog) -> None:
    assert add_platform_records(catalog, ["aiod", "", "not a name!", "aiod"]) == ["aiod"]
    assert add_platform_records(catalog, ["aiod", "openml"]) == ["openml"]
    assert recorded_platforms(catalog) == {"aiod", "openml"}
    assert platform_names(catalog) == ["aiod", "openml"]
