"""OpenML connector against a loopback replay of the recorded payloads in
api/demo/recorded/openml."""

from __future__ import annotations

import copy

from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from mappings.openml import OpenMLConnector
from tests.support.harvest import find, harvester, replay, snapshot

DATASETS = ASSET_TYPES["datasets"]


def test_full_harvest_maps_datasets_and_flows(catalog: Catalog) -> None:
    with replay() as server:
        report = harvester(catalog).run(OpenMLConnector(server.openml_url, page_size=2))
    assert report.completed and report.error_count == 0, report.summary()
    assert report.listed == 6
    assert catalog.count(DATASETS) == 3
    assert catalog.count(ASSET_TYPES["ml_models"]) == 3

    anneal = find(catalog, "datasets", "openml", "2")
    assert anneal["name"] == "anneal"
    assert anneal["description"]["plain"].startswith("**Author**: Unknown. Donated by David")
    assert anneal["same_as"] == "https://www.openml.org/d/2"
    assert anneal["date_published"] == "2014-04-06T23:19:24"
    assert anneal["version"] == "1"
    assert anneal["is_accessible_for_free"] is True
    assert anneal["size"] == {"unit": "instances", "value": 898}
    assert {"uci", "study_1", "test"} <= set(anneal["keyword"])
    arff, parquet = anneal["distribution"]
    assert arff["content_url"] == "https://api.openml.org/data/v1/download/1666876/anneal.arff"
    assert arff["encoding_format"] == "ARFF"
    assert arff["checksum"] == "4eaed8b6ec9d8211024b6c089b064761"
    assert arff["checksum_algorithm"] == "md5"
    assert parquet["content_url"] == "http://openml1.win.tue.nl/dataset2/dataset_2.pq"
    assert "license" not in anneal  # "Public" is not a licence IRI ...
    assert {"value": "Licence on openml: Public"} in anneal["note"]  # ... but is kept
    assert {"value": "Default target attribute: class"} in anneal["note"]
    assert "https://archive.ics.uci.edu/ml/datasets/Annealing" in anneal["relevant_link"]
    creators = [catalog.get(ASSET_TYPES["persons"], i)["name"] for i in anneal["creator"]]
    assert sorted(creators) == ["David Sterling", "Wray Buntine"]

    chess = find(catalog, "datasets", "openml", "3")
    assert "https://dl.acm.org/doi/abs/10.5555/32231" in chess["relevant_link"]
    assert chess["size"]["value"] == 3196

    flow = find(catalog, "ml_models", "openml", "1")
    assert flow["name"] == "openml.evaluation.EuclideanDistance"
    assert flow["alternate_name"] == ["openml.evaluation.EuclideanDistance(1.0)"]
    assert flow["same_as"] == "https://www.openml.org/f/1"
    assert flow["date_published"] == "2014-01-16T14:12:56"
    assert "weka" in flow["keyword"]
    assert {"value": "Dependencies: Build on top of Weka API (Jar version 3.?.?)"} in flow["note"]
    (creator,) = flow["creator"]
    assert catalog.get(ASSET_TYPES["persons"], creator)["name"] == "Jan N. van Rijn"
    # the same creator of three flows is one person
    assert find(catalog, "ml_models", "openml", "3")["creator"] == [creator]


def test_harvest_twice_changes_nothing(catalog: Catalog) -> None:
    with replay() as server:
        run = harvester(catalog)
        first = run.run(OpenMLConnector(server.openml_url, page_size=2))
        before = {i: catalog.index.get(i) for i in catalog.index.identifiers()}
        second = run.run(OpenMLConnector(server.openml_url, page_size=2))
    assert first.total("created") == 11 and second.total("created") == 0
    assert second.total("updated") == 0 and second.total("deleted") == 0
    assert second.counts["datasets"]["unchanged"] == 3
    assert second.counts["ml_models"]["unchanged"] == 3
    after = {i: catalog.index.get(i) for i in catalog.index.identifiers()}
    assert after == before  # same identifiers, same dates: not even rewritten
    assert catalog.count(DATASETS) == 3


def test_upstream_change_updates_in_place(catalog: Catalog) -> None:
    with replay() as server:
        run = harvester(catalog)
        run.run(OpenMLConnector(server.openml_url))
        identifier = find(catalog, "datasets", "openml", "3")["identifier"]
        detail = server.data.openml_datasets[3]["detail"]["data_set_description"]
        detail["name"] = "kr-vs-kp (revised)"
        detail["tag"] = ["chess"]
        report = run.run(OpenMLConnector(server.openml_url))
    assert report.counts["datasets"]["updated"] == 1, report.summary()
    assert report.counts["datasets"]["unchanged"] == 2
    changed = find(catalog, "datasets", "openml", "3")
    assert changed["identifier"] == identifier
    assert changed["name"] == "kr-vs-kp (revised)"
    assert changed["keyword"] == ["chess"]


def test_upstream_deletion_and_deactivation_propagate(catalog: Catalog) -> None:
    with replay() as server:
        run = harvester(catalog)
        run.run(OpenMLConnector(server.openml_url, page_size=2))
        gone = find(catalog, "datasets", "openml", "4")["identifier"]
        deactivated = find(catalog, "datasets", "openml", "2")["identifier"]
        del server.data.openml_datasets[4]  # no longer listed
        entry = server.data.openml_datasets[2]
        entry["summary"] = dict(entry["summary"], status="deactivated")
        report = run.run(OpenMLConnector(server.openml_url, page_size=2))
    assert report.counts["datasets"]["deleted"] == 2, report.summary()
    assert catalog.count(DATASETS) == 1
    for identifier in (gone, deactivated):
        tombstone = catalog.index.get(identifier, include_deleted=True)
        assert tombstone is not None and tombstone.deleted  # recorded as deleted
    # the creators of the deleted datasets, no longer referenced, are gone too
    names = {
        catalog.get(ASSET_TYPES["persons"], i)["name"] for i in catalog.index.identifiers("persons")
    }
    assert "David Sterling" not in names and "Jan N. van Rijn" in names


def test_reappearing_dataset_is_created_again(catalog: Catalog) -> None:
    with replay() as server:
        run = harvester(catalog)
        run.run(OpenMLConnector(server.openml_url))
        saved = copy.deepcopy(server.data.openml_datasets.pop(4))
        run.run(OpenMLConnector(server.openml_url))
        server.data.openml_datasets[4] = saved
        report = run.run(OpenMLConnector(server.openml_url))
    assert report.counts["datasets"]["created"] == 1
    assert len([k for k in snapshot(catalog) if k[0] == "datasets"]) == 3
