"""The storage interface of uploaded files and the choice of back end (``AIOD_KG_FILES``).

Objects are addressed by the sha256 of their bytes, so the same content is stored once. An
upload is written through an ``Upload`` (hashed while it streams) and becomes visible only by
``commit``; ``abort`` (or an exception) leaves nothing behind.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from kg.settings import Settings
from kg.store.backends import index_path

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1024 * 1024


class ChecksumMismatch(ValueError):
    """The bytes received do not have the checksum the client announced."""


class TooLarge(ValueError):
    """An upload passed its size limit."""


@dataclass(frozen=True)
class ObjectStat:
    sha256: str
    size: int


class Upload(Protocol):
    """One object being written: ``write`` chunks, then ``commit`` or ``abort``."""

    size: int

    def write(self, data: bytes) -> None: ...

    def commit(self, expected_sha256: str | None = None) -> ObjectStat:
        """Store the object (raises ChecksumMismatch, leaving nothing, if it differs)."""
        ...

    def abort(self) -> None: ...


class FileStore(Protocol):
    """A content-addressed object store (local directory or S3-compatible)."""

    def upload(self, max_bytes: int | None = None) -> Upload: ...

    def stat(self, sha256: str) -> ObjectStat | None: ...

    def open_range(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes ``[start, end)`` of an object, in chunks (``end`` None: to its end)."""
        ...

    def delete(self, sha256: str) -> bool: ...

    def iterate(self) -> Iterator[ObjectStat]: ...

    def describe(self) -> str: ...

    def temporary(self) -> list[tuple[str, float]]:
        """Leftovers of uploads in progress or interrupted: (name, age in seconds)."""
        ...

    def remove_temporary(self, name: str) -> None:
        """Remove one leftover named by ``temporary`` (never a stored object)."""
        ...


def put_stream(
    store: FileStore,
    chunks: Iterable[bytes],
    expected_sha256: str | None = None,
    max_bytes: int | None = None,
) -> ObjectStat:
    """Store an iterable of chunks (streamed: one chunk in memory at a time)."""
    upload = store.upload(max_bytes)
    try:
        for chunk in chunks:
            upload.write(chunk)
        return upload.commit(expected_sha256)
    except BaseException:
        upload.abort()
        raise


def check_sha256(value: str) -> str:
    value = value.lower()
    if not SHA256_RE.match(value):
        raise ValueError(f"Not a sha256 (64 hexadecimal digits): {value[:80]!r}")
    return value


def files_location(settings: Settings) -> str:
    """``AIOD_KG_FILES``, or ``files/`` beside ``catalog.sqlite``."""
    if settings.files:
        return settings.files
    return str(index_path(settings).parent / "files")


def open_file_store(settings: Settings) -> FileStore:
    location = files_location(settings)
    if location.startswith("s3://"):
        from kg.files.s3 import S3FileStore

        return S3FileStore.from_settings(location, settings)
    from kg.files.local import LocalFileStore

    return LocalFileStore(Path(location))
