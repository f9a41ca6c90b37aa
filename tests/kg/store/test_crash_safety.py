"""Crash safety: SIGKILL of real ``aiod-kg`` processes at random points of an import, a bulk
update (upsert of changed records) and a search reindex. After a restart every asset is wholly
old or wholly new, the catalogue index agrees with the store (kg/recovery.py ``recover``), and
the search index agrees with the store (or is rebuilt by the next open's reconcile).
(Harvest kills are covered by tests/kg/harvest/test_harvest_resume.py.)

Kill points are drawn from a seeded RNG as fractions of a measured uninterrupted run, so every
run hits early (parsing), middle (validation, store writes) and late (index commit) phases."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from kg.search.index import SearchQuery, open_index
from kg.settings import Settings
from kg.store.partition import is_public_status
from tests.support.data import ADMIN_KEY
from tests.support.robust import BASE, assert_index_agrees, cli, open_catalog

N = 1500  # datasets per file
KILLS = 4  # kill points per scenario
pytestmark = pytest.mark.slow


def records(marker: str) -> list[dict[str, Any]]:
    rng = random.Random(3)
    return [
        {
            "platform": "example",
            "platform_resource_identifier": f"crash-{i}",
            "name": f"{marker} dataset {i}",
            "description": {
                "plain": f"description {marker} " + "lorem ipsum " * rng.randint(1, 40)
            },
            "keyword": [f"kw-{marker}", "crash"],
            "date_published": "2024-01-02T03:04:05",
        }
        for i in range(N)
    ]


def write_file(folder: Path, marker: str) -> Path:
    path = folder / f"datasets-{marker}.json"
    path.write_text(json.dumps(records(marker)), encoding="utf-8")
    return path


def run(store: Path, *args: str, kill_after: float | None = None) -> float:
    """Run ``aiod-kg ARGS``; SIGKILL it after ``kill_after`` seconds. Returns the run time."""
    started = time.monotonic()
    process = cli(store, *args)
    if kill_after is None:
        out, _ = process.communicate(timeout=600)
        assert process.returncode == 0, out.decode()[-2000:]
    else:
        try:
            process.wait(timeout=kill_after)
        except Exception:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
    return time.monotonic() - started


def marker_of(doc: dict[str, Any]) -> str:
    """The one version an asset holds; fails on a torn (mixed) asset."""
    marker = str(doc["name"]).split()[0]
    assert str(doc["description"]["plain"]).startswith(f"description {marker} "), doc
    assert f"kw-{marker}" in doc["keyword"], doc
    return marker


def check_store(store: Path, allowed: set[str]) -> dict[str, str]:
    """Reopen (recover), check the index agrees with the store; identifier -> version."""
    catalog = open_catalog(store)
    try:
        stored = assert_index_agrees(catalog)
        versions = {i: marker_of(doc) for i, doc in stored.items()}
        assert set(versions.values()) <= allowed, set(versions.values())
        return versions
    finally:
        catalog.close()


def search_settings(store: Path) -> Settings:
    return Settings(store=str(store), admin_key=ADMIN_KEY, base_url=BASE, search_model="static")


def check_search(store: Path) -> int:
    """Open the search index as the server would (reconcile with the store): it must then hold
    exactly the store's public assets at their current versions, and find them."""
    settings = search_settings(store)
    catalog = open_catalog(store)
    index = open_index(settings)
    try:
        index.bind(catalog)
        index.reconcile()
        live = {i: m for i, _, m, status in catalog.index.modified() if is_public_status(status)}
        assert set(index.by_identifier) == set(live)
        for identifier, docno in index.by_identifier.items():
            assert index.cols.modified[docno] == live[identifier], identifier
        if live:
            assert index.search(SearchQuery("crash dataset", limit=5)).total > 0
        return len(live)
    finally:
        index.close()
        catalog.close()


def kill_points(duration: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    return sorted(rng.uniform(0.15, 1.0) * duration for _ in range(KILLS))


def test_sigkill_during_import(tmp_path: Path) -> None:
    v1 = write_file(tmp_path, "v1")
    duration = run(tmp_path / "full", "import", str(v1), "--type", "datasets")
    assert len(check_store(tmp_path / "full", {"v1"})) == N
    for n, delay in enumerate(kill_points(duration, 1)):
        store = tmp_path / f"kill{n}"
        run(store, "import", str(v1), "--type", "datasets", kill_after=delay)
        # one save_many: the whole file or nothing (uncommitted creates are rolled back)
        assert len(check_store(store, {"v1"})) in (0, N), delay
        check_search(store)
    # the import can simply be run again after a crash
    run(store, "import", str(v1), "--type", "datasets")
    assert len(check_store(store, {"v1"})) == N


def test_sigkill_during_bulk_update(tmp_path: Path) -> None:
    v1, v2 = write_file(tmp_path, "v1"), write_file(tmp_path, "v2")
    base = tmp_path / "base"
    run(base, "import", str(v1), "--type", "datasets")
    check_search(base)  # the base store has a search index at v1
    before = check_store(base, {"v1"})
    trial = tmp_path / "trial"
    shutil.copytree(base, trial)
    duration = run(trial, "import", str(v2), "--type", "datasets", "--mode", "upsert")
    assert set(check_store(trial, {"v2"})) == set(before)
    for n, delay in enumerate(kill_points(duration, 2)):
        store = tmp_path / f"kill{n}"
        shutil.copytree(base, store)
        run(store, "import", str(v2), "--type", "datasets", "--mode", "upsert", kill_after=delay)
        after = check_store(store, {"v1", "v2"})  # each asset wholly v1 or wholly v2
        assert set(after) == set(before)  # the same identifiers: nothing lost or duplicated
        check_search(store)


def test_sigkill_during_reindex(tmp_path: Path) -> None:
    v1 = write_file(tmp_path, "v1")
    base = tmp_path / "base"
    run(base, "import", str(v1), "--type", "datasets")
    trial = tmp_path / "trial"
    shutil.copytree(base, trial)
    duration = run(trial, "reindex", "--model", "static")
    assert check_search(trial) == N
    for n, delay in enumerate(kill_points(duration, 3)[:3]):
        store = tmp_path / f"kill{n}"
        shutil.copytree(trial if n % 2 else base, store)  # with and without an index before
        run(store, "reindex", "--model", "static", kill_after=delay)
        check_store(store, {"v1"})
        assert check_search(store) == N
