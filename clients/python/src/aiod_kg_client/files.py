"""Files of assets: streamed upload and download with a progress callback (``Client.upload``,
``Client.download``, ``Client.files``). The sha256 is computed while reading and sent as
``Content-Digest`` so the server refuses a corrupted upload; a download is written to a
temporary file beside the target, checked against the ``ETag`` (the sha256) and renamed."""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from aiod_kg_client.errors import ClientError, Unreachable

if TYPE_CHECKING:
    from aiod_kg_client.client import Client

CHUNK = 1024 * 1024
Progress = Callable[[int, int | None], None]  # (bytes done, total bytes or None)


def file_path(type: str, identifier: str, name: str) -> str:
    return f"/{type}/{identifier}/files/{quote(name, safe='')}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _chunks(path: Path, total: int, progress: Progress | None) -> Iterator[bytes]:
    done = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            done += len(chunk)
            if progress is not None:
                progress(done, total)
            yield chunk


def upload(
    client: Client,
    type: str,
    identifier: str,
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    media_type: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    source = Path(path)
    total = source.stat().st_size
    sha = _sha256(source)
    headers = {
        "Content-Digest": f"sha-256=:{base64.b64encode(bytes.fromhex(sha)).decode()}:",
        "Content-Length": str(total),
        "Content-Type": media_type or "application/octet-stream",
    }
    response = client.request(
        "PUT",
        file_path(type, identifier, name or source.name),
        content=_chunks(source, total, progress),
        headers=headers,
        timeout=httpx.Timeout(60.0, read=None, write=None),
    )
    result: dict[str, Any] = response.json()
    return result


def download(
    client: Client,
    type: str,
    identifier: str,
    name: str,
    target: str | os.PathLike[str],
    *,
    progress: Progress | None = None,
) -> Path:
    """Write the file to ``target`` (a directory: the file's name inside it)."""
    destination = Path(target)
    if destination.is_dir():
        destination = destination / Path(name).name
    digest = hashlib.sha256()
    try:
        with client._http.stream("GET", file_path(type, identifier, name), timeout=None) as r:
            if r.status_code >= 400:
                r.read()
                from aiod_kg_client.client import _error

                raise _error(r)
            total = int(r.headers["content-length"]) if "content-length" in r.headers else None
            expected = r.headers.get("etag", "").strip('"')
            fd, temporary = tempfile.mkstemp(prefix=".download-", dir=destination.parent)
            try:
                with os.fdopen(fd, "wb") as out:
                    done = 0
                    for chunk in r.iter_bytes(CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, total)
                if expected and digest.hexdigest() != expected:
                    raise ClientError(
                        f"The download's sha256 {digest.hexdigest()} is not its ETag {expected}."
                    )
                os.replace(temporary, destination)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
    except httpx.TransportError as exc:
        raise Unreachable(f"{client.base_url}: {exc}") from exc
    return destination
