"""Content-addressed files in a local directory (the embedded default).

Layout: ``objects/<ab>/<cd>/<sha256>`` (the first two byte pairs of the hash fan the objects
out) and ``tmp/`` for uploads in progress. An upload is written to a temporary file in the same
file system, hashed as it arrives, fsynced and renamed atomically onto its hash; if that name
exists already the same bytes are stored and the temporary file is dropped (stored once).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from kg.files.store import CHUNK, SHA256_RE, ChecksumMismatch, ObjectStat, TooLarge


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalUpload:
    """A temporary file being written; see ``kg.files.store.Upload``."""

    def __init__(self, store: LocalFileStore, max_bytes: int | None) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.size = 0
        self._hash = hashlib.sha256()
        fd, name = tempfile.mkstemp(prefix="upload-", dir=store.tmp)
        self._file = os.fdopen(fd, "wb")
        self._path = Path(name)
        self._done = False

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.max_bytes is not None and self.size > self.max_bytes:
            self.abort()
            raise TooLarge(f"The file is larger than {self.max_bytes} bytes.")
        self._hash.update(data)
        self._file.write(data)

    def commit(self, expected_sha256: str | None = None) -> ObjectStat:
        digest = self._hash.hexdigest()
        if expected_sha256 is not None and expected_sha256.lower() != digest:
            self.abort()
            raise ChecksumMismatch(
                f"The content's sha256 is {digest}, not the announced {expected_sha256}."
            )
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        target = self.store.path_of(digest)
        if target.exists():  # the same content is stored already
            self.abort()
            return ObjectStat(digest, self.size)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(self._path, 0o644)
        os.replace(self._path, target)  # atomic; a concurrent identical upload ends the same
        _fsync_dir(target.parent)
        self._done = True
        return ObjectStat(digest, self.size)

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()


class LocalFileStore:
    """``kg.files.store.FileStore`` over a directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects = root / "objects"
        self.tmp = root / "tmp"
        self.objects.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    def describe(self) -> str:
        return str(self.root)

    def path_of(self, sha256: str) -> Path:
        if not SHA256_RE.match(sha256):
            raise ValueError("not a sha256")
        return self.objects / sha256[:2] / sha256[2:4] / sha256

    def upload(self, max_bytes: int | None = None) -> LocalUpload:
        return LocalUpload(self, max_bytes)

    def stat(self, sha256: str) -> ObjectStat | None:
        try:
            return ObjectStat(sha256, self.path_of(sha256).stat().st_size)
        except (FileNotFoundError, ValueError):
            return None

    def open_range(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        with self.path_of(sha256).open("rb") as handle:
            handle.seek(start)
            remaining = None if end is None else end - start
            while remaining is None or remaining > 0:
                chunk = handle.read(CHUNK if remaining is None else min(CHUNK, remaining))
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def delete(self, sha256: str) -> bool:
        try:
            self.path_of(sha256).unlink()
            return True
        except (FileNotFoundError, ValueError):
            return False

    def iterate(self) -> Iterator[ObjectStat]:
        for path in sorted(self.objects.glob("*/*/*")):
            if SHA256_RE.match(path.name):
                yield ObjectStat(path.name, path.stat().st_size)

    def stale_uploads(self) -> list[Path]:
        """Temporary files left by interrupted processes (never visible as objects)."""
        return sorted(self.tmp.glob("upload-*"))

    def temporary(self) -> list[tuple[str, float]]:
        """Temporary files of uploads with their age in seconds (see ``FileStore``)."""
        now = time.time()
        found = []
        for path in self.stale_uploads():
            try:
                found.append((path.name, now - path.stat().st_mtime))
            except FileNotFoundError:  # finished meanwhile
                continue
        return found

    def remove_temporary(self, name: str) -> None:
        if "/" in name or not name.startswith("upload-"):
            raise ValueError(f"not a temporary upload: {name!r}")
        with contextlib.suppress(FileNotFoundError):
            (self.tmp / name).unlink()
