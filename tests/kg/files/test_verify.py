"""``aiod-kg files verify`` (kg/files/verify.py) and files in backups (kg/files/backup.py)."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.cli.main import main
from kg.backup import backup, restore
from kg.catalog import Catalog
from kg.files.s3 import PART
from kg.files.service import Files
from kg.files.verify import verify
from kg.settings import Settings
from tests.support.data import ADMIN_KEY, AUTH
from tests.support.s3 import running_s3


def _settings(store: Path) -> Settings:
    return Settings(
        store=str(store), admin_key=ADMIN_KEY, search_enabled=False, search_warmup=False
    )


def _seed(settings: Settings) -> tuple[str, dict[str, bytes]]:
    bodies = {"a.csv": b"x,y\n1,2\n", "b.bin": b"\x00" * 5000, "c.txt": b"third"}
    catalog = Catalog(settings)
    try:
        with TestClient(create_app(settings, catalog)) as client:
            created = client.post("/datasets", json={"name": "Verified"}, headers=AUTH)
            identifier = created.json()["identifier"]
            for name, body in bodies.items():
                put = client.put(f"/datasets/{identifier}/files/{name}", content=body, headers=AUTH)
                assert put.status_code == 201, put.text
    finally:
        catalog.close()
    return identifier, bodies


def test_verify_reports_corrupt_missing_and_orphans(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path / "store")
    identifier, bodies = _seed(settings)
    catalog, files = Catalog(settings), Files(settings)
    try:
        clean = verify(catalog, files)
        assert clean.ok and clean.objects == 3 and clean.references == 3 and not clean.orphans
        sha = {name: hashlib.sha256(body).hexdigest() for name, body in bodies.items()}
        objects = tmp_path / "store" / "files" / "objects"
        (objects / sha["a.csv"][:2] / sha["a.csv"][2:4] / sha["a.csv"]).write_bytes(b"rot")
        (objects / sha["b.bin"][:2] / sha["b.bin"][2:4] / sha["b.bin"]).unlink()
        orphan = hashlib.sha256(b"orphan").hexdigest()
        upload = files.store.upload()
        upload.write(b"orphan")
        upload.commit()
        report = verify(catalog, files)
        assert report.corrupt == [sha["a.csv"]]
        assert report.missing == [
            {"type": "datasets", "identifier": identifier, "name": "b.bin", "sha256": sha["b.bin"]}
        ]
        assert report.orphans == [orphan] and not report.ok
        assert verify(catalog, files, rehash=False).corrupt == []
    finally:
        files.close()
        catalog.close()
    assert main(["files", "verify", "--store", str(tmp_path / "store"), "--delete-orphans"]) == 1
    printed = json.loads(capsys.readouterr().out)
    assert printed["deleted_orphans"] == 1 and printed["corrupt"] == [sha["a.csv"]]
    assert main(["files", "verify", "--store", str(tmp_path / "store")]) == 1
    assert json.loads(capsys.readouterr().out)["orphans"] == []


def test_backup_and_restore_include_files(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "store")
    identifier, bodies = _seed(settings)
    catalog = Catalog(settings)
    try:
        manifest = backup(catalog, tmp_path / "backup")
    finally:
        catalog.close()
    assert manifest["files"] == 3 and "files.sqlite" in manifest["sqlite"]
    restored = _settings(tmp_path / "restored")
    restore(tmp_path / "backup", restored)
    catalog = Catalog(restored)
    try:
        with TestClient(create_app(restored, catalog)) as client:
            for name, body in bodies.items():
                got = client.get(f"/datasets/{identifier}/files/{name}")
                assert got.status_code == 200 and got.content == body
        files = Files(restored)
        try:
            assert verify(catalog, files).ok
        finally:
            files.close()
    finally:
        catalog.close()


def test_clean_temp_removes_only_old_leftovers_of_crashed_uploads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path / "store")
    _seed(settings)
    tmp = tmp_path / "store" / "files" / "tmp"
    crashed, running = tmp / "upload-crashed", tmp / "upload-running"
    crashed.write_bytes(b"half a file")
    running.write_bytes(b"still arriving")
    old = time.time() - 5 * 3600
    os.utime(crashed, (old, old))
    assert main(["files", "verify", "--store", str(tmp_path / "store")]) == 0
    assert json.loads(capsys.readouterr().out)["stale_uploads"] == 2
    assert main(["files", "verify", "--store", str(tmp_path / "store"), "--clean-temp", "4"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["cleaned_uploads"] == 1 and printed["stale_uploads"] == 1
    assert not crashed.exists() and running.exists()
    assert printed["objects"] == 3 and printed["ok"]


def test_verify_and_clean_temp_on_the_s3_back_end(tmp_path: Path) -> None:
    with running_s3() as server:
        location = server.location()
        settings = Settings(
            **{**_settings(tmp_path / "store").model_dump(), **server.settings(location)}
        )
        _seed(settings)
        catalog, files = Catalog(settings), Files(settings)
        try:
            assert verify(catalog, files).ok and verify(catalog, files).objects == 3
            crashed = files.store.upload()
            crashed.write(b"c" * (PART + 1))  # a multipart upload begun, never finished
            orphan = files.store.upload()
            orphan.write(b"nobody refers to me")
            orphan.commit()
            report = verify(catalog, files, delete_orphans=True, clean_temp_hours=1)
            # moto dates every multipart upload 2010: old enough
            assert report.ok and report.deleted_orphans == 1 and report.cleaned_uploads == 1
            assert server.multipart_uploads(location) == [] and server.keys(location, "tmp/") == []
            assert len(server.keys(location, "objects/")) == 3
        finally:
            files.close()
            catalog.close()
