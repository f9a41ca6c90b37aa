"""The content-addressed local store (kg/files/local.py) and file names (kg/files/names.py)."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from kg.files.local import LocalFileStore
from kg.files.names import BadName, checked_name, content_disposition, media_type
from kg.files.store import ChecksumMismatch, TooLarge, put_stream


def test_round_trip_sizes_and_ranges(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path / "files")
    for size in (0, 1, 1024 * 1024 - 1, 3 * 1024 * 1024 + 7):
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
    assert {s.size for s in store.iterate()} == {0, 1, 1024 * 1024 - 1, 3 * 1024 * 1024 + 7}
    assert store.stale_uploads() == []


def test_same_content_is_stored_once_even_concurrently(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path / "files")
    data = b"x" * 300_000
    results = []

    def upload() -> None:
        results.append(put_stream(store, [data[:100_000], data[100_000:]]))

    threads = [threading.Thread(target=upload) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({r.sha256 for r in results}) == 1 and len(results) == 8
    assert len(list(store.iterate())) == 1
    assert store.stale_uploads() == []


def test_failed_uploads_leave_nothing(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path / "files")
    with pytest.raises(ChecksumMismatch):
        put_stream(store, [b"abc"], expected_sha256="0" * 64)
    with pytest.raises(TooLarge):
        put_stream(store, [b"a" * 10, b"b" * 10], max_bytes=15)

    def interrupted() -> object:
        yield b"partial"
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        put_stream(store, interrupted())  # type: ignore[arg-type]
    assert list(store.iterate()) == []
    assert store.stale_uploads() == []
    right = hashlib.sha256(b"abc").hexdigest()
    assert put_stream(store, [b"abc"], expected_sha256=right).sha256 == right
    assert store.delete(right) and not store.delete(right)
    assert store.stat(right) is None


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
