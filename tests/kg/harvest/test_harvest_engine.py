"""The harvest engine: retries (Retry-After, backoff), per-record errors, dry runs, limits and
resumption, run against the OpenML replay (the engine itself knows no platform)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from kg.catalog import Catalog
from kg.harvest import Http, Progress, parse_interval, parse_retry_after, parse_since
from kg.model.fields import ASSET_TYPES
from mappings.openml import OpenMLConnector
from tests.support.harvest import RecordingSleep, find, harvester, replay, snapshot

DATASETS = ASSET_TYPES["datasets"]


def test_429_then_success_honours_retry_after(catalog: Catalog) -> None:
    sleep = RecordingSleep()
    with replay() as server:
        server.fail("/data/list/", status=429, times=2, retry_after="7")
        report = harvester(catalog, sleep).run(OpenMLConnector(server.openml_url))
    assert report.completed and report.error_count == 0, report.summary()
    assert report.retries == 2
    assert sleep.delays == [7.0, 7.0]
    assert catalog.count(DATASETS) == 3


def test_500_then_success_backs_off_exponentially(catalog: Catalog) -> None:
    sleep = RecordingSleep()
    with replay() as server:
        server.fail("/data/3", status=500, times=3)
        report = harvester(catalog, sleep, backoff=1.0, max_retries=5).run(
            OpenMLConnector(server.openml_url)
        )
    assert report.completed and report.error_count == 0, report.summary()
    assert find(catalog, "datasets", "openml", "3")["name"] == "kr-vs-kp"
    assert len(sleep.delays) == 3
    # equal jitter: attempt n waits between 2**n / 2 and 2**n seconds
    for attempt, delay in enumerate(sleep.delays):
        assert 2**attempt / 2 <= delay <= 2**attempt


def test_failing_record_is_reported_and_the_rest_land(catalog: Catalog) -> None:
    with replay() as server:
        run = harvester(catalog)
        run.run(OpenMLConnector(server.openml_url))
        identifier = find(catalog, "datasets", "openml", "3")["identifier"]
        server.fail("/data/3", status=503, times=100)  # more than the retries
        report = run.run(OpenMLConnector(server.openml_url))
    assert report.completed
    (error,) = report.errors
    assert error.record == "data/3" and error.stage == "fetch"
    assert "503" in error.message
    # the record that could not be fetched this time is not taken for deleted
    assert report.total("deleted") == 0
    assert catalog.index.get(identifier) is not None


def test_malformed_records_among_good_ones(catalog: Catalog) -> None:
    with replay() as server:
        no_name = server.data.openml_datasets[3]["detail"]["data_set_description"]
        no_name["name"] = ""  # the mapper refuses it
        bad_checksum = server.data.openml_datasets[4]["detail"]["data_set_description"]
        bad_checksum["md5_checksum"] = "not-hex!"  # the SHACL shapes refuse it
        report = harvester(catalog).run(OpenMLConnector(server.openml_url))
    assert report.completed
    by_record = {e.record: e for e in report.errors}
    assert set(by_record) == {"data/3", "data/4"}
    assert by_record["data/3"].stage == "map"
    assert by_record["data/3"].message == "dataset without a name"
    assert by_record["data/4"].stage == "validate"
    assert by_record["data/4"].problems[0]["field"] == "distribution[0].checksum"
    assert report.counts["datasets"] == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "deleted": 0,
        "failed": 1,
    }
    assert find(catalog, "datasets", "openml", "2")["name"] == "anneal"
    assert catalog.count(ASSET_TYPES["ml_models"]) == 3


def test_dry_run_writes_nothing(catalog: Catalog) -> None:
    with replay() as server:
        server.data.openml_datasets[4]["detail"]["data_set_description"]["md5_checksum"] = "x!"
        report = harvester(catalog).run(OpenMLConnector(server.openml_url), dry_run=True)
    assert report.dry_run and report.completed
    assert report.counts["datasets"]["created"] == 2
    assert [e.record for e in report.errors] == ["data/4"]
    assert catalog.counts() == {}


def test_limit_stops_and_the_next_run_resumes(catalog: Catalog) -> None:
    with replay() as server:
        run = harvester(catalog)
        first = run.run(OpenMLConnector(server.openml_url, page_size=2), limit=3)
        assert not first.completed and first.listed == 3
        assert catalog.count(DATASETS) == 3 and catalog.count(ASSET_TYPES["ml_models"]) == 0
        second = run.run(OpenMLConnector(server.openml_url, page_size=2))
        listed = [r for r in server.requests if "/list/" in r]
    assert second.resumed and second.completed, second.summary()
    # resumed after the last dataset page: the datasets were not listed again
    assert listed[2:] == [
        "/openml/api/v1/json/data/list/limit/2/offset/3",
        "/openml/api/v1/json/flow/list/limit/2/offset/0",
        "/openml/api/v1/json/flow/list/limit/2/offset/2",
    ]
    assert catalog.count(ASSET_TYPES["ml_models"]) == 3


def test_listing_failure_aborts_and_resumes_to_the_same_state(
    catalog: Catalog, tmp_path: Path
) -> None:
    from kg.settings import Settings

    with replay() as server:
        run = harvester(catalog)
        server.fail("/flow/list/", status=404, times=1)  # not retryable
        broken = run.run(OpenMLConnector(server.openml_url, page_size=2))
        assert broken.aborted and not broken.completed
        resumed = run.run(OpenMLConnector(server.openml_url, page_size=2))
        assert resumed.resumed and resumed.completed
        other = Catalog(Settings(store=str(tmp_path / "other")))
        try:
            harvester(other).run(OpenMLConnector(server.openml_url, page_size=2))
            assert snapshot(other) == snapshot(catalog)
        finally:
            other.close()


def test_retry_after_and_interval_parsing() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0 - 30) == 30.0
    assert parse_retry_after("soon") is None
    assert parse_interval("1h") == 3600 and parse_interval("15m") == 900
    assert parse_since("2024-01-02").isoformat() == "2024-01-02T00:00:00+00:00"
    with pytest.raises(ValueError):
        parse_interval("0s")


def test_transport_errors_are_retried() -> None:
    sleep = RecordingSleep()
    http = Http(timeout=0.5, max_retries=2, backoff=0.01, sleep=sleep)
    with pytest.raises(Exception) as failure:
        http.get("http://127.0.0.1:9/nothing-listens-here")
    assert "after 3 attempts" in str(failure.value)
    assert len(sleep.delays) == 2
    assert http.requests == 3 and http.retries == 2


def test_progress_bar_draws_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    progress = Progress("openml", screen)
    progress.total = 10
    progress.update(5, 1, force=True)
    progress.close(10, 1)
    assert "openml" in screen.getvalue() and "10/10 records" in screen.getvalue()
    quiet = io.StringIO()
    Progress("openml", quiet).update(5, 0, force=True)
    assert quiet.getvalue() == ""
