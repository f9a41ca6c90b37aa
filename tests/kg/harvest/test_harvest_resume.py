"""A harvest killed mid-run (a real ``aiod-kg harvest`` process, SIGKILL) resumes to the same
final state as an uninterrupted one, once the killed run's harvest lease has expired (a
harvest started before that says who holds it), on a SQLite file and on PostgreSQL; and the
CLI / ``serve`` wiring of the harvesters."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.demo.replay import ReplayData, ReplayServer
from kg.catalog import Catalog
from kg.harvest.state import HarvestState
from kg.model.fields import ASSET_TYPES
from kg.settings import Settings
from tests.support.data import FIXTURES, REPO
from tests.support.harvest import snapshot
from tests.support.server import running_server

DATASETS = 80
LEASE_SECONDS = 10.0  # longer than a CLI's start on a busy machine


def harvest_process(
    store: Path, url: str, *extra: str, database: str | None = None
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AIOD_KG_STORE": str(store),
        "AIOD_KG_HARVEST_LEASE_SECONDS": str(LEASE_SECONDS),
        "AIOD_KG_HARVEST_PAGE_SIZE": "5",
        "AIOD_KG_HARVEST_WRITE_BATCH": "10",
        "AIOD_KG_HARVEST_CONCURRENCY": "2",
        "AIOD_KG_HARVEST_BACKOFF": "0.05",
    }
    if database:
        env["AIOD_KG_DATABASE"] = database
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "harvest", "openml", "--base-url", url, *extra],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def source_of(url: str) -> str:
    """The harvest state's name of the replayed OpenML source."""
    return f"openml {url}"


def committed_offset(state: HarvestState, source: str) -> int:
    run = state.open_run(source)
    return int(run.cursor.get("offset", 0)) if run and run.cursor else 0


def open_snapshot(
    store: Path, database: str | None = None
) -> dict[tuple[str, str, str], dict[str, Any]]:
    catalog = Catalog(Settings(store=str(store), database=database))
    try:
        return snapshot(catalog)
    finally:
        catalog.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest) -> list[str | None]:
    """Two separate relational databases (None: the SQLite files beside each store)."""
    if request.param == "sqlite":
        return [None, None]
    return [request.getfixturevalue("postgres_url"), request.getfixturevalue("postgres_url")]


@pytest.mark.slow
def test_sigkill_mid_harvest_resumes_to_the_same_state(
    tmp_path: Path, databases: list[str | None]
) -> None:
    data = ReplayData.from_fixtures(FIXTURES).scaled(openml=DATASETS)
    database, clean_database = databases
    killed = tmp_path / "killed"
    state = HarvestState.from_settings(Settings(store=str(killed), database=database))
    with ReplayServer(data) as server:
        source = source_of(server.openml_url)
        server.delay = 0.04  # slow enough to be caught in the middle
        process = harvest_process(killed, server.openml_url, database=database)
        deadline = time.monotonic() + 120
        while committed_offset(state, source) < 20 and time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        assert process.wait(30) == -signal.SIGKILL
        offset = committed_offset(state, source)
        assert 20 <= offset < DATASETS  # stopped in the middle, the run still open
        lease = state.lease(source)
        assert lease is not None  # the killed holder never released it

        # its lease has not expired yet: a harvest now says who holds the source, runs nothing
        before = server.settled(0.2)
        server.delay = 0.0
        early = harvest_process(killed, server.openml_url, database=database)
        output = early.communicate(timeout=120)[0].decode()
        assert early.returncode == 1, output
        assert f"not run: {source} is being harvested by {lease.holder}" in output
        assert not [r for r in server.requests[before:] if "/data/list/" in r]
        assert committed_offset(state, source) == offset
        while time.time() < lease.expires:
            time.sleep(0.1)

        # expired: the next harvest takes the lease over and resumes from the cursor
        before = len(server.requests)
        resumed = harvest_process(killed, server.openml_url, database=database)
        output = resumed.communicate(timeout=120)[0].decode()
        assert resumed.returncode == 0, output
        assert "(resumed)" in output
        listed = [r for r in server.requests[before:] if "/data/list/" in r]
        assert listed[0].endswith(f"/data/list/limit/5/offset/{offset}")  # not from the start
        assert state.open_run(source) is None and state.lease(source) is None  # released

        clean = tmp_path / "clean"
        straight = harvest_process(clean, server.openml_url, database=clean_database)
        output = straight.communicate(timeout=120)[0].decode()
        assert straight.returncode == 0, output

    # no record lost or duplicated: the same assets, and the state knows as many as a clean run
    clean_state = HarvestState.from_settings(Settings(store=str(clean), database=clean_database))
    try:
        assert state.count(source) == clean_state.count(source) >= DATASETS
    finally:
        clean_state.close()
        state.close()
    after_kill = open_snapshot(killed, database)
    uninterrupted = open_snapshot(clean, clean_database)
    assert len([k for k in uninterrupted if k[0] == "datasets"]) == DATASETS
    assert after_kill == uninterrupted


def test_cli_dry_run_prints_a_json_report(tmp_path: Path) -> None:
    with ReplayServer(ReplayData.from_fixtures(FIXTURES)) as server:
        process = harvest_process(tmp_path / "store", server.openml_url, "--dry-run", "--json")
        output = process.communicate(timeout=120)[0].decode()
    assert process.returncode == 0, output
    report = json.loads(output)
    assert report["dry_run"] and report["completed"]
    assert report["counts"]["datasets"]["created"] == 3
    catalog = Catalog(Settings(store=str(tmp_path / "store")))
    try:
        assert catalog.counts() == {}
    finally:
        catalog.close()


@pytest.mark.slow
@pytest.mark.server
def test_serve_harvest_every_and_demo(tmp_path: Path) -> None:
    with ReplayServer(ReplayData.from_fixtures(FIXTURES)) as server:
        env = {
            "AIOD_KG_OPENML_URL": server.openml_url,
            "AIOD_KG_HARVEST_SOURCES": "openml",
        }
        with running_server(
            tmp_path / "store",
            env=env,
            args=["--harvest-every", "1h"],
            admin_key=None,
            stop_timeout=30,
        ) as live:
            base = live.base_url
            deadline = time.monotonic() + 60
            counts: dict[str, Any] = {}
            while time.monotonic() < deadline:
                counts = httpx.get(f"{base}/counts", timeout=5).json()
                if counts.get("ml_models", {}).get("openml") == 3:
                    break
                time.sleep(0.2)
            assert counts.get("datasets", {}).get("openml") == 3, counts

    demo_store = tmp_path / "demo"
    catalog = Catalog(Settings(store=str(demo_store)))
    try:
        from api.demo.catalog import demo_harvest

        reports = demo_harvest(catalog, ReplayData.from_fixtures(FIXTURES))  # recorded only
        loaded = sum(report.total("created") for report in reports)
        counts = catalog.counts()
    finally:
        catalog.close()
    assert loaded > 50
    assert counts["datasets"] == {"openml": 3, "huggingface": 6, "zenodo": 7}
    assert counts["publications"]["huggingface"] == 5
    assert ASSET_TYPES["ml_models"].collection in counts
