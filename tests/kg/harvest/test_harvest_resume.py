"""A harvest killed mid-run (a real ``aiod-kg harvest`` process, SIGKILL) resumes to the same
final state as an uninterrupted one; and the CLI / ``serve`` wiring of the harvesters."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.demo.replay import ReplayData, ReplayServer
from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from kg.settings import Settings
from tests.support.data import FIXTURES, REPO
from tests.support.harvest import snapshot
from tests.support.server import running_server

DATASETS = 80


def harvest_process(store: Path, url: str, *extra: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AIOD_KG_STORE": str(store),
        "AIOD_KG_HARVEST_PAGE_SIZE": "5",
        "AIOD_KG_HARVEST_WRITE_BATCH": "10",
        "AIOD_KG_HARVEST_CONCURRENCY": "2",
        "AIOD_KG_HARVEST_BACKOFF": "0.05",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "harvest", "openml", "--base-url", url, *extra],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def committed_offset(store: Path) -> int:
    path = store / "harvest.sqlite"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            row = db.execute("SELECT cursor FROM runs").fetchone()
    except sqlite3.Error:
        return 0
    return int(json.loads(row[0]).get("offset", 0)) if row and row[0] else 0


def open_snapshot(store: Path) -> dict:  # type: ignore[type-arg]
    catalog = Catalog(Settings(store=str(store)))
    try:
        return snapshot(catalog)
    finally:
        catalog.close()


@pytest.mark.slow
def test_sigkill_mid_harvest_resumes_to_the_same_state(tmp_path: Path) -> None:
    data = ReplayData.from_fixtures(FIXTURES).scaled(openml=DATASETS)
    with ReplayServer(data) as server:
        server.delay = 0.04  # slow enough to be caught in the middle
        killed = tmp_path / "killed"
        process = harvest_process(killed, server.openml_url)
        deadline = time.monotonic() + 120
        while committed_offset(killed) < 20 and time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        assert process.wait(30) == -signal.SIGKILL
        offset = committed_offset(killed)
        assert 20 <= offset < DATASETS  # stopped in the middle, the run still open

        server.delay = 0.0
        before = len(server.requests)
        resumed = harvest_process(killed, server.openml_url)
        output = resumed.communicate(timeout=120)[0].decode()
        assert resumed.returncode == 0, output
        assert "(resumed)" in output
        listed = [r for r in server.requests[before:] if "/data/list/" in r]
        assert listed[0].endswith(f"/data/list/limit/5/offset/{offset}")  # not from the start

        clean = tmp_path / "clean"
        straight = harvest_process(clean, server.openml_url)
        output = straight.communicate(timeout=120)[0].decode()
        assert straight.returncode == 0, output

    after_kill, uninterrupted = open_snapshot(killed), open_snapshot(clean)
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
            counts: dict = {}  # type: ignore[type-arg]
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
