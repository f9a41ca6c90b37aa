"""Push sync under stress: SIGKILL in the middle of ``aiod-kg sync``, ``serve --sync-every``,
and one run at a time per node (kg/sync/state.py ``sync_lock``)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kg.catalog import Catalog
from kg.settings import Settings
from kg.sync import Pusher
from kg.sync.state import sync_lock
from tests.support.data import ADMIN_KEY, AUTH, REPO
from tests.support.server import free_port, running_server

PLATFORM = "node-k"


def node_env(central: str, store: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "AIOD_KG_STORE": str(store),
        "AIOD_KG_BASE_URL": "http://node.example",
        "AIOD_KG_ADMIN_KEY": ADMIN_KEY,
        "AIOD_KG_CENTRAL_URL": f"{central}/v2",
        "AIOD_KG_CENTRAL_TOKEN": ADMIN_KEY,
        "AIOD_KG_NODE_PLATFORM": PLATFORM,
        "AIOD_KG_SYNC_MAX_RETRIES": "1",
        "AIOD_KG_HARVEST_BACKOFF": "0.01",
    }


def cli(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def on_central(http: httpx.Client) -> list[str]:
    """The node identifiers of every dataset the central holds from the node (duplicates kept)."""
    out: list[str] = []
    offset = 0
    while True:
        page = http.get(f"/v2/platforms/{PLATFORM}/datasets?offset={offset}&limit=1000").json()
        out += [d["platform_resource_identifier"] for d in page]
        if len(page) < 1000:
            return out
        offset += len(page)


@pytest.mark.server
@pytest.mark.slow
def test_sigkill_during_sync_then_rerun_leaves_the_central_exact(tmp_path: Path) -> None:
    n = 2500  # ten bulk creates (kg/sync/pusher.py BULK): most still to come at the kill
    records = tmp_path / "datasets.json"
    records.write_text(json.dumps([{"name": f"Killed sync dataset {i}"} for i in range(n)]))
    store = tmp_path / "node"
    central_port = free_port()
    central_url = f"http://127.0.0.1:{central_port}"
    env = node_env(central_url, store)
    imported = cli(env, "import", str(records), "--type", "datasets")
    out, err = imported.communicate(timeout=300)
    assert imported.returncode == 0, out + err
    kill_at = random.randint(1, n // 3)
    with (
        running_server(tmp_path / "central", port=central_port),
        httpx.Client(base_url=central_url, headers=AUTH, timeout=30) as http,
    ):
        run = cli(env, "sync", "--json")
        deadline = time.monotonic() + 120
        while len(on_central(http)) < kill_at and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(run.pid, signal.SIGKILL)
        run.communicate(timeout=30)
        assert run.returncode == -signal.SIGKILL
        half = on_central(http)
        assert kill_at <= len(half) < n  # killed in the middle
        rerun = cli(env, "sync", "--json")
        out, err = rerun.communicate(timeout=300)
        assert rerun.returncode == 0, out + err
        report = json.loads(out)
        assert report["created"] + report["updated"] + report["unchanged"] == n, report
        held = on_central(http)
        assert len(held) == len(set(held)) == n  # every one, none twice
        assert http.get("/v2/counts/datasets").json() == n
        again = cli(env, "sync", "--json")
        out, err = again.communicate(timeout=300)
        assert json.loads(out)["unchanged"] == n, out + err


@pytest.mark.server
@pytest.mark.slow
def test_serve_sync_every_pushes_in_the_background(tmp_path: Path) -> None:
    central_port = free_port()
    central_url = f"http://127.0.0.1:{central_port}"
    env = node_env(central_url, tmp_path / "node")
    env = {k: v for k, v in env.items() if k not in ("PATH", "AIOD_KG_STORE", "AIOD_KG_BASE_URL")}
    with (
        running_server(tmp_path / "central", port=central_port),
        running_server(tmp_path / "node", env=env, args=["--sync-every", "1s"]) as node,
        httpx.Client(base_url=central_url, timeout=30) as central,
    ):
        made = httpx.post(  # the first write loads the shapes: slow on a loaded machine
            f"{node.base_url}/v2/datasets",
            json={"name": "Scheduled push"},
            headers=AUTH,
            timeout=60,
        ).json()["identifier"]
        deadline = time.monotonic() + 60
        found = central.get(f"/v2/platforms/{PLATFORM}/datasets/{made}")
        while found.status_code == 404 and time.monotonic() < deadline:
            time.sleep(0.2)
            found = central.get(f"/v2/platforms/{PLATFORM}/datasets/{made}")
        assert found.json()["name"] == "Scheduled push"


def test_serve_sync_every_refuses_a_store_that_is_not_a_node(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "serve", "--sync-every", "1m", "--port", "9"],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "AIOD_KG_STORE": str(tmp_path / "s")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "AIOD_KG_CENTRAL_URL" in done.stderr


def test_one_run_at_a_time_per_node(tmp_path: Path) -> None:
    settings = Settings(
        store=str(tmp_path / "node"),
        central_url="http://127.0.0.1:9/v2",  # never called: the lock is held
        central_token="unused",
        node_platform=PLATFORM,
    )
    catalog = Catalog(settings)
    pusher = Pusher(catalog)
    try:
        with sync_lock(settings) as mine:
            assert mine
            with sync_lock(settings) as second:
                assert not second
            report = pusher.run()
        assert report.stopped == "another sync run of this node is in progress"
        assert report.pushed == 0
        with sync_lock(settings) as again:
            assert again  # released
    finally:
        pusher.close()
        catalog.close()


@pytest.mark.server
@pytest.mark.slow
def test_central_killed_during_a_sync_loses_nothing(tmp_path: Path) -> None:
    """The central dies in the middle of a run (SIGKILL: a POST it committed may never be
    answered); the run stops, and once the central is back the next run leaves it exact.
    New assets go in bulk creates of 250 (kg/sync/pusher.py BULK): enough of them that the
    run is still under way when a quarter is on the central."""
    n = 2500
    records = tmp_path / "datasets.json"
    records.write_text(json.dumps([{"name": f"Central killed dataset {i}"} for i in range(n)]))
    store = tmp_path / "node"
    central_port = free_port()
    central_url = f"http://127.0.0.1:{central_port}"
    env = node_env(central_url, store)
    imported = cli(env, "import", str(records), "--type", "datasets")
    out, err = imported.communicate(timeout=300)
    assert imported.returncode == 0, out + err
    with (
        running_server(tmp_path / "central", port=central_port) as central,
        httpx.Client(base_url=central_url, headers=AUTH, timeout=30) as http,
    ):
        run = cli(env, "sync", "--json")
        deadline = time.monotonic() + 120
        while len(on_central(http)) < n // 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        central.process.kill()
        central.process.wait(30)
        out, err = run.communicate(timeout=300)
        assert run.returncode == 1, out + err
        stopped = json.loads(out)
        assert stopped["stopped"] and stopped["created"] < n, stopped
    with (
        running_server(tmp_path / "central", port=central_port),
        httpx.Client(base_url=central_url, headers=AUTH, timeout=30) as http,
    ):
        rerun = cli(env, "sync", "--json")
        out, err = rerun.communicate(timeout=300)
        assert rerun.returncode == 0, out + err
        report = json.loads(out)
        assert not report["errors"] and stopped["created"] + report["created"] <= n, report
        held = on_central(http)
        assert len(held) == len(set(held)) == n  # every one, none twice
        assert http.get("/v2/counts/datasets").json() == n
