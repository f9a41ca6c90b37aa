"""``aiod-kg backup`` / ``aiod-kg restore``: offline round trip (every asset, draft, owner and
harvest row comes back), and an online backup taken by a running server while writers keep
writing (the restored catalogue is consistent: index = store, no torn asset)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from tests.support.data import ADMIN_KEY, AUTH, REPO, example_records
from tests.support.robust import BASE, assert_index_agrees, env_for, open_catalog, server


def aiod(store: Path, *args: str, base: str = BASE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=REPO,
        env=env_for(store, base),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _load(catalog: Catalog) -> None:
    for collection in ("datasets", "ml_models", "publications", "persons", "organisations"):
        records = example_records(collection)
        for record in records:
            for key in ("identifier", "aiod_entry"):
                record.pop(key, None)
        catalog.save_many(ASSET_TYPES[collection], records, mode="upsert")
    draft = {
        "name": "a draft",
        "aiod_entry": {"status": "draft"},
        "platform": "example",
        "platform_resource_identifier": "draft-1",
    }
    identifier = catalog.create(ASSET_TYPES["datasets"], draft)
    assert catalog.get(ASSET_TYPES["datasets"], identifier)["aiod_entry"]["status"] == "draft"


def test_backup_restore_round_trip(tmp_path: Path) -> None:
    store = tmp_path / "store"
    catalog = open_catalog(store)
    try:
        _load(catalog)
        before = assert_index_agrees(catalog)
        owners = catalog.index._conn().execute("SELECT count(*) FROM sqlite_master").fetchone()
    finally:
        catalog.close()
    assert len(before) > 5
    (store / "harvest.sqlite").write_bytes(b"")  # a sibling SQLite file comes along too
    done = aiod(store, "backup", str(tmp_path / "backup"))
    assert done.returncode == 0, done.stderr
    # a backup never goes into a non-empty directory; restore never over a store
    assert aiod(store, "backup", str(tmp_path / "backup")).returncode == 1
    assert aiod(store, "restore", str(tmp_path / "backup")).returncode == 1
    restored = tmp_path / "restored"
    done = aiod(restored, "restore", str(tmp_path / "backup"))
    assert done.returncode == 0, done.stderr
    assert (restored / "harvest.sqlite").exists()
    again = open_catalog(restored)
    try:
        assert assert_index_agrees(again) == before
        tables = again.index._conn().execute("SELECT count(*) FROM sqlite_master").fetchone()
        assert tables == owners
    finally:
        again.close()


@pytest.mark.slow
@pytest.mark.server
def test_online_backup_during_writes(tmp_path: Path) -> None:
    store = tmp_path / "store"
    stop = threading.Event()
    errors: list[str] = []
    with server(store, AIOD_KG_BACKUP_DIR=str(tmp_path)) as live:
        base = live.base_url

        def write(slot: int) -> None:
            with httpx.Client(base_url=base, timeout=60) as http:
                n = 0
                while not stop.is_set():
                    record = {
                        "name": f"w{slot} n{n}",
                        "platform": "example",
                        "platform_resource_identifier": f"w{slot}-{n % 15}",
                        "description": {"plain": f"w{slot} n{n}"},
                    }
                    answer = http.post("/datasets", json=record, headers=AUTH)
                    if answer.status_code == 409:  # exists: replace it
                        existing = answer.json()["detail"].split("identifier=")[-1].rstrip(".")
                        answer = http.put(f"/datasets/{existing}", json=record, headers=AUTH)
                    if answer.status_code != 200:
                        errors.append(f"{answer.status_code} {answer.text}")
                    n += 1

        threads = [threading.Thread(target=write, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        try:
            for k in range(3):
                done = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "api.cli.main",
                        "backup",
                        str(tmp_path / f"b{k}"),
                        "--server",
                        base,
                    ],
                    cwd=REPO,
                    env={**env_for(store, base), "AIOD_KG_ADMIN_KEY": ADMIN_KEY},
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                assert done.returncode == 0, done.stderr
            # a backup needs the admin key
            denied = httpx.post(f"{base}/admin/backup", json={"directory": str(tmp_path / "x")})
            assert denied.status_code in (401, 403)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
    assert errors == []
    for k in range(3):
        restored = tmp_path / f"restored{k}"
        assert aiod(restored, "restore", str(tmp_path / f"b{k}"), base=base).returncode == 0
        catalog = open_catalog(restored, base)
        try:
            stored = assert_index_agrees(catalog)
            for doc in stored.values():
                assert doc["name"] == doc["description"]["plain"]
        finally:
            catalog.close()
