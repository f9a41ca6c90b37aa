"""The content-addressed stores behind ``FileStore`` -- local directory (kg/files/local.py) and
S3-compatible (kg/files/s3.py, against moto's server on loopback) -- and file names
(kg/files/names.py)."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kg.files.local import LocalFileStore
from kg.files.names import BadName, checked_name, content_disposition, media_type
from kg.files.s3 import PART, S3FileStore
from kg.files.store import ChecksumMismatch, FileStore, TooLarge, open_file_store, put_stream
from kg.settings import Settings
from tests.support.s3 import S3Server, running_s3


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with running_s3() as server:
        yield server


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> FileStore:
    if request.param == "local":
        return LocalFileStore(tmp_path / "files")
    server: S3Server = request.getfixturevalue("s3_server")
    settings = Settings(store=str(tmp_path / "store"), **server.settings(server.location()))
    opened = open_file_store(settings)
    assert isinstance(opened, S3FileStore)
    return opened


SIZES = (0, 1, 1024 * 1024 - 1, 3 * 1024 * 1024 + 7, PART + 3 * 1024 * 1024 + 1)


def test_round_trip_sizes_and_ranges(store: FileStore) -> None:
    # the last size is two S3 parts: a multipart upload completed, then copied onto its hash
    for size in SIZES:
        data = bytes(i % 251 for i in range(size))
        stat = put_stream(store, [data[i : i + 65536] for i in range(0, size, 65536)])
        assert stat.sha256 == hashlib.sha256(data).hexdigest()
        assert stat.size == size
        assert store.stat(stat.sha256) == stat
        assert b"".join(store.open_range(stat.sha256)) == data
        assert (
            b"".join(store.open_range(stat.sha256, size // 3, size // 2))
            == data[size // 3 : size // 2]
        )
        assert b"".join(store.open_range(stat.sha256, size, size)) == b""
    assert {s.size for s in store.iterate()} == set(SIZES)
    assert store.temporary() == []


@pytest.mark.parametrize("size", [300_000, PART + 1])
def test_same_content_is_stored_once_even_concurrently(store: FileStore, size: int) -> None:
    data = b"x" * size
    results = []

    def upload() -> None:
        results.append(put_stream(store, [data[:100_000], data[100_000:]]))

    threads = [threading.Thread(target=upload) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({r.sha256 for r in results}) == 1 and len(results) == 6
    assert [s.size for s in store.iterate()] == [size]
    assert store.temporary() == []


def test_failed_uploads_leave_nothing(store: FileStore) -> None:
    with pytest.raises(ChecksumMismatch):
        put_stream(store, [b"abc"], expected_sha256="0" * 64)
    with pytest.raises(ChecksumMismatch):  # past one S3 part: the multipart upload is aborted
        put_stream(store, [b"p" * PART, b"q"], expected_sha256="0" * 64)
    with pytest.raises(TooLarge):
        put_stream(store, [b"a" * 10, b"b" * 10], max_bytes=15)
    with pytest.raises(TooLarge):
        put_stream(store, [b"a" * PART, b"b" * PART], max_bytes=PART + 5)

    def interrupted() -> object:
        yield b"partial" * PART
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        put_stream(store, interrupted())  # type: ignore[arg-type]
    assert list(store.iterate()) == []
    assert store.temporary() == []
    right = hashlib.sha256(b"abc").hexdigest()
    assert put_stream(store, [b"abc"], expected_sha256=right).sha256 == right
    assert store.delete(right) and not store.delete(right)
    assert store.stat(right) is None


def test_crashed_uploads_are_swept_by_age(store: FileStore) -> None:
    # an upload abandoned without abort (the process crashed) leaves a temporary file or an
    # unfinished S3 multipart upload; never an object
    crashed = store.upload()
    crashed.write(b"c" * (PART + 10))
    left = store.temporary()
    assert left and list(store.iterate()) == []
    if isinstance(store, LocalFileStore):  # fresh, then aged (moto dates uploads 2010)
        assert all(age < 3600 for _, age in left)
        old = time.time() - 7200
        for name, _ in left:
            os.utime(store.tmp / name, (old, old))
        assert all(age > 3600 for _, age in store.temporary())
    for name, _ in left:
        store.remove_temporary(name)
    assert store.temporary() == [] and list(store.iterate()) == []


@pytest.mark.parametrize(
    "name", ["", ".", "..", "a/b", "a\\b", "x\x00y", "x\ny", "x\u202ey", " lead", "a" * 256]
)
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(BadName):
        checked_name(name)


def test_names_media_types_and_disposition() -> None:
    assert checked_name("données.csv") == "données.csv"
    assert media_type("a.csv") == "text/csv"
    assert media_type("a.unknownext") == "application/octet-stream"
    assert media_type("a.csv", "application/x-parquet; x=1") == "application/x-parquet"
    assert media_type("a.bin", "not a type") == "application/octet-stream"
    header = content_disposition('évil";.html')
    assert header.startswith('attachment; filename="_vil__.html"')
    assert "filename*=UTF-8''%C3%A9vil%22%3B.html" in header
