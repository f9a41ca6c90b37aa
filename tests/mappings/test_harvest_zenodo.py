"""Zenodo connector (OAI-PMH oai_datacite + files API) against a loopback replay of
api/demo/recorded/zenodo."""

from __future__ import annotations

from datetime import UTC, datetime

from api.demo.replay import ReplayServer
from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from mappings.zenodo import ZenodoConnector
from tests.support.harvest import find, harvester, replay

SINCE = datetime(2023, 5, 1, tzinfo=UTC)
UNTIL = datetime(2024, 3, 1, tzinfo=UTC)
ONE_WINDOW = (UNTIL - SINCE).total_seconds() / 3600


def connector(server: ReplayServer, hours: float = ONE_WINDOW) -> ZenodoConnector:
    return ZenodoConnector(server.zenodo_url, window_hours=hours, now=UNTIL)


def test_harvest_maps_datasets_and_publications(catalog: Catalog) -> None:
    with replay(oai_page_size=10) as server:
        report = harvester(catalog).run(connector(server), since=SINCE)
        order = [r.split("?")[0] for r in server.requests]
    assert report.completed and report.error_count == 0, report.summary()
    assert report.listed == 51
    assert report.counts["datasets"]["created"] == 7
    assert report.counts["publications"]["created"] == 8
    assert report.skipped == 36  # software, images, collections, ...
    # every OAI-PMH page of the window was fetched before any record was processed
    oai = [i for i, path in enumerate(order) if path.endswith("/oai2d")]
    files = [i for i, path in enumerate(order) if "/files" in path]
    assert len(oai) == 6 and files and max(oai) < min(files)

    mall = find(catalog, "datasets", "zenodo", "zenodo.org:7902673")
    assert mall["name"] == ("THE FIELD'S MALL MASS SHOOTING: EMERGENCY MEDICAL SERVICES RESPONSE")
    assert mall["same_as"] == "https://zenodo.org/records/7902673"
    assert mall["pid"] == "https://doi.org/10.5281/zenodo.7902673"
    assert mall["date_published"] == "2023-05-06T00:00:00"
    assert mall["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert "is_accessible_for_free" not in mall  # no info:eu-repo access right given
    assert "Mass casualty" in mall["keyword"]
    assert mall["description"]["plain"].startswith("Case report describing the mass shooting")
    assert "https://doi.org/10.5281/zenodo.7902672" in mall["relevant_link"]
    files_by_name = {d["name"]: d for d in mall["distribution"]}
    sheet = files_by_name["FIELDS_SINE_CFB.xlsx"]
    assert sheet["content_url"] == (
        "https://zenodo.org/api/records/7902673/files/FIELDS_SINE_CFB.xlsx/content"
    )
    assert sheet["checksum"] == "538fb0d16d323d6904b2df3976f6a9c0"
    assert sheet["checksum_algorithm"] == "md5"
    assert len(mall["creator"]) == 6

    training = find(catalog, "datasets", "zenodo", "zenodo.org:7555467")
    (archive,) = training["distribution"]
    assert archive["content_size_kb"] == 1105442067 // 1024
    assert archive["encoding_format"] == "application/zip"

    article = find(catalog, "publications", "zenodo", "zenodo.org:7961708")
    assert article["type"] == "JournalArticle"
    (author,) = article["creator"]
    person = catalog.get(ASSET_TYPES["persons"], author)
    assert person["name"] == "Liu Huan"
    assert person["same_as"] == "https://orcid.org/0000-0003-4881-8509"
    assert person["platform_resource_identifier"] == "orcid:0000-0003-4881-8509"


def test_deleted_records_propagate_and_windows_advance(catalog: Catalog) -> None:
    with replay() as server:
        run = harvester(catalog)
        first = run.run(connector(server, hours=24 * 30), since=SINCE)
        assert first.completed and first.counts["datasets"]["created"] == 7
        identifier = find(catalog, "datasets", "zenodo", "zenodo.org:7947283")["identifier"]
        record = next(
            r for r in server.data.zenodo_records if r.identifier == "oai:zenodo.org:7947283"
        )
        record.deleted = True
        again = run.run(connector(server, hours=24 * 30), since=SINCE)
    assert again.counts["datasets"]["deleted"] == 1, again.summary()
    assert again.counts["datasets"]["unchanged"] == 6
    tombstone = catalog.index.get(identifier, include_deleted=True)
    assert tombstone is not None and tombstone.deleted
    # ten 30-day windows from May 2023 to March 2024, most of them empty
    assert 9 <= sum(1 for r in server.requests if "metadataPrefix" in r) // 2 <= 11


def test_resumption_token_errors_abort_and_resume(catalog: Catalog) -> None:
    with replay(oai_page_size=10) as server:
        run = harvester(catalog)
        server.fail("resumptionToken=30", status=404, times=1)  # not retried: run stops
        first = run.run(connector(server), since=SINCE)
        assert not first.completed and first.aborted
        second = run.run(connector(server), since=SINCE)
    assert second.resumed and second.completed, second.summary()
    assert catalog.count(ASSET_TYPES["datasets"]) == 7
