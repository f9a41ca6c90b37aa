"""The content of assets over HTTP: ``PUT|GET|HEAD|DELETE /{type}/{identifier}/files/{name}``
and ``GET /{type}/{identifier}/files`` (storage: ``kg.files``).

An upload is authorised (owner, ``write`` grant, platform or admin: ``guard.check_write``)
before one byte of its body is read, streamed to the store while its sha256 is computed
(checked against ``?sha256=``, ``Content-Digest`` or ``Digest`` when given), capped per file
and per user (413), and becomes a ``distribution`` of the asset written like any PUT (SHACL,
review workflow). Downloads inherit the asset's visibility (the same 404 as the asset), stream
with ``Range`` and never render: ``Content-Disposition: attachment``, ``nosniff`` and a
sandboxing CSP. ``POST /{type}/{identifier}/files`` takes the same files as
``multipart/form-data`` (the share page's form; parsed as it streams, ``file_forms``), each
file under the same caps. AIoD's ``/{type}/{identifier}/content[/{index}]`` redirects to these URLs.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request
from python_multipart.exceptions import MultipartParseError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse

from api.auth.guard import check_write, edit, readable
from api.auth.principal import PrincipalDep, get_access
from api.deps import CatalogDep
from api.routes.file_forms import FormError, FormUploads, boundary_of
from kg.access.rules import Principal
from kg.catalog import Catalog
from kg.files import distributions as dist
from kg.files.ledger import FileRow, now
from kg.files.names import BadName, checked_name, content_disposition, media_type
from kg.files.service import Files
from kg.files.store import ChecksumMismatch, ObjectStat, TooLarge, Upload, check_sha256
from kg.model.fields import ASSET_TYPES, AssetType

BUFFER = 1024 * 1024  # bytes gathered before one write to the store (off the event loop)
_lock = threading.Lock()
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
SANDBOX = "default-src 'none'; sandbox; frame-ancestors 'none'"


def get_files(request: Request) -> Files:
    """The app's ``Files`` (made on first use, closed with the app's catalog)."""
    state = request.app.state
    files: Files | None = getattr(state, "files", None)
    if files is None:
        with _lock:
            files = getattr(state, "files", None)
            if files is None:
                files = Files(state.settings)
                state.files = files
    return files


def _asset(name: str) -> AssetType:
    asset = ASSET_TYPES.get(name)
    if asset is None:
        raise HTTPException(404, f"Unknown asset type {name!r}; one of: {', '.join(ASSET_TYPES)}.")
    return asset


def _name(name: str) -> str:
    try:
        return checked_name(name)
    except BadName as exc:
        raise HTTPException(400, str(exc)) from None


def _b64_sha256(value: str) -> str:
    try:
        raw = base64.b64decode(value.strip().strip(":"), validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(400, "The sha-256 digest is not valid base64.") from None
    if len(raw) != 32:
        raise HTTPException(400, "A sha-256 digest has 32 bytes.")
    return raw.hex()


def expected_sha256(request: Request) -> str | None:
    """The checksum the client announces: ``?sha256=<hex>``, ``Content-Digest: sha-256=:b64:``
    (RFC 9530) or ``Digest: SHA-256=b64`` (RFC 3230); None when none is given."""
    found: list[str] = []
    query = request.query_params.get("sha256")
    if query is not None:
        try:
            found.append(check_sha256(query))
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
    for header in ("content-digest", "repr-digest", "digest"):
        for part in ",".join(request.headers.getlist(header)).split(","):
            algorithm, _, value = part.strip().partition("=")
            if algorithm.strip().lower() == "sha-256" and value:
                found.append(_b64_sha256(value))
    if len(set(found)) > 1:
        raise HTTPException(400, "The announced sha-256 checksums differ.")
    return found[0] if found else None


def _too_large(detail: str) -> HTTPException:
    return HTTPException(413, detail)


def _limit(files: Files, principal: Principal, identifier: str, name: str) -> int:
    """Bytes this upload may have: the per-file cap, and what is left of the uploader's quota
    (the file it replaces counted as freed)."""
    settings = files.settings
    limit = settings.files_max_bytes
    quota = settings.files_user_quota_bytes
    if quota and not principal.admin:
        previous = files.ledger.get(identifier, name)
        used = files.ledger.usage(principal.subject or "")
        if previous is not None and previous.uploader == principal.subject:
            used -= previous.size
        limit = min(limit, max(quota - used, 0))
    return limit


def _limit_detail(files: Files, limit: int) -> str:
    if limit < files.settings.files_max_bytes:
        return f"The file passes your storage quota (at most {limit} more bytes)."
    return f"The file is larger than the limit of {limit} bytes."


async def _receive(request: Request, upload: Upload) -> None:
    buffer = bytearray()
    async for chunk in request.stream():
        buffer += chunk
        if len(buffer) >= BUFFER:
            data, buffer = bytes(buffer), bytearray()
            await run_in_threadpool(upload.write, data)
    if buffer:
        await run_in_threadpool(upload.write, bytes(buffer))


def _attach(
    catalog: Catalog,
    files: Files,
    request: Request,
    principal: Principal,
    asset: AssetType,
    identifier: str,
    name: str,
    stat: ObjectStat,
    media: str,
) -> dict[str, Any]:
    """Write the file's distribution (and ledger row) under the catalog's write lock."""
    access = get_access(request)
    url = dist.file_url(catalog.base_url, asset, identifier, name)
    with catalog.write_lock:
        try:
            if files.store.stat(stat.sha256) is None:  # released by a failed concurrent upload
                raise HTTPException(409, "The upload was lost to a concurrent change; send again.")
            created = False

            def add(data: dict[str, Any]) -> dict[str, Any]:
                nonlocal created
                created = dist.find(data, url) is None
                return dist.with_file(data, dist.entry(url, name, stat, media))

            body = edit(catalog, access, principal, asset, identifier, add)
        except BaseException:
            files.release(stat.sha256)  # unreferenced: nothing of the upload stays
            raise
        uploader = principal.subject or ""
        row = FileRow(identifier, name, asset.collection, stat.sha256, stat.size, uploader, now())
        previous = files.ledger.record(row)
        if previous is not None and previous.sha256 != stat.sha256:
            files.release(previous.sha256)
    return {
        **body,
        "name": name,
        "content_url": url,
        "sha256": stat.sha256,
        "size": stat.size,
        "encoding_format": media,
        "created": created,
    }


def _detach(
    catalog: Catalog,
    files: Files,
    request: Request,
    principal: Principal,
    asset: AssetType,
    identifier: str,
    name: str,
) -> dict[str, Any]:
    access = get_access(request)
    url = dist.file_url(catalog.base_url, asset, identifier, name)

    def drop(data: dict[str, Any]) -> dict[str, Any]:
        if dist.find(data, url) is None:
            raise HTTPException(404, f"{asset.label} '{identifier}' has no file {name!r}.")
        return dist.without_file(data, url)

    with catalog.write_lock:
        body = edit(catalog, access, principal, asset, identifier, drop)
        if not body.get("pending_review"):
            previous = files.ledger.remove(identifier, name)
            if previous is not None:
                files.release(previous.sha256)
    return {**body, "name": name}


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end)`` (end exclusive) of a single byte range; None: the whole file. Raises
    416 when the range cannot be satisfied."""
    if not header:
        return None
    match = _RANGE_RE.match(header.strip())
    if match is None:
        return None  # several ranges or another unit: the whole file (RFC 9110 allows it)
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(size - length, 0), size
    start = int(first)
    end = size if not last else min(int(last) + 1, size)
    if start >= size or (last and int(last) < start):
        raise _unsatisfiable(size)
    return start, end


def _unsatisfiable(size: int) -> HTTPException:
    return HTTPException(
        416, f"The range is outside the file ({size} bytes).", {"Content-Range": f"bytes */{size}"}
    )


def _located(
    catalog: Catalog, request: Request, principal: Principal, asset: AssetType, identifier: str
) -> tuple[dict[str, Any], bool]:
    """The asset's AIoD JSON and whether it is public (the asset's own 404 otherwise)."""
    facts = readable(catalog, get_access(request), principal, asset, identifier)
    return catalog.get(asset, identifier), facts.public


def files_router(suffix: str = "") -> APIRouter:
    router = APIRouter(tags=["files"])
    path = "/{asset_type}/{identifier}/files/{name}"

    @router.put(
        path,
        operation_id=f"upload_file{suffix}",
        summary="Upload a file of the asset (streamed; becomes one of its distributions)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/octet-stream": {"schema": {"type": "string"}}},
            }
        },
    )
    async def upload_file(
        request: Request,
        catalog: CatalogDep,
        principal: PrincipalDep,
        asset_type: str,
        identifier: str,
        name: str,
    ) -> Response:
        asset = _asset(asset_type)
        name = _name(name)
        access = get_access(request)
        # 401 / 404 / 403 before one byte of the body is read
        await run_in_threadpool(check_write, catalog, access, principal, asset, identifier)
        expected = expected_sha256(request)
        files = get_files(request)
        limit = await run_in_threadpool(_limit, files, principal, identifier, name)
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise _too_large(_limit_detail(files, limit))
        upload = await run_in_threadpool(files.store.upload, limit)
        try:
            await _receive(request, upload)
            stat = await run_in_threadpool(upload.commit, expected)
        except TooLarge:
            raise _too_large(_limit_detail(files, limit)) from None
        except ChecksumMismatch as exc:
            raise HTTPException(400, str(exc)) from None
        except ClientDisconnect:
            upload.abort()
            raise
        except BaseException:
            await run_in_threadpool(upload.abort)
            raise
        media = media_type(name, request.headers.get("content-type"))
        body = await run_in_threadpool(
            _attach, catalog, files, request, principal, asset, identifier, name, stat, media
        )
        status = 201 if body["created"] else 200
        return Response(
            orjson.dumps(body),
            status_code=status,
            media_type="application/json",
            headers={"ETag": f'"{stat.sha256}"', "Location": body["content_url"]},
        )

    @router.post(
        "/{asset_type}/{identifier}/files",
        operation_id=f"upload_files_form{suffix}",
        summary="Upload files of the asset as a multipart form (each becomes a distribution)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "file": {
                                    "type": "array",
                                    "items": {"type": "string", "format": "binary"},
                                }
                            },
                        }
                    }
                },
            }
        },
    )
    async def upload_files_form(
        request: Request,
        catalog: CatalogDep,
        principal: PrincipalDep,
        asset_type: str,
        identifier: str,
    ) -> Response:
        asset = _asset(asset_type)
        access = get_access(request)
        # 401 / 404 / 403 before one byte of the body is read
        await run_in_threadpool(check_write, catalog, access, principal, asset, identifier)
        try:
            boundary = boundary_of(request.headers.get("content-type"))
        except FormError as exc:
            raise HTTPException(415, str(exc)) from None
        files = get_files(request)
        stored: list[dict[str, Any]] = []
        limits: list[int] = []

        def begin(name: str) -> Upload:
            limits.append(_limit(files, principal, identifier, name))
            return files.store.upload(limits[-1])

        def end(name: str, upload: Upload, declared: str | None) -> None:
            stat = upload.commit()
            media = media_type(name, declared)
            body = _attach(catalog, files, request, principal, asset, identifier, name, stat, media)
            stored.append({k: body[k] for k in ("name", "content_url", "sha256", "size")})

        form = FormUploads(boundary, begin, end)
        try:
            buffer = bytearray()
            async for chunk in request.stream():
                buffer += chunk
                if len(buffer) >= BUFFER:
                    data, buffer = bytes(buffer), bytearray()
                    await run_in_threadpool(form.write, data)
            await run_in_threadpool(form.write, bytes(buffer))
            await run_in_threadpool(form.finish)
        except TooLarge:
            form.abort()
            raise _too_large(_limit_detail(files, limits[-1])) from None
        except (FormError, MultipartParseError) as exc:
            await run_in_threadpool(form.abort)
            done = f" ({len(stored)} file(s) before it were stored)" if stored else ""
            raise HTTPException(400, f"{exc}{done}") from None
        except ClientDisconnect:
            form.abort()
            raise
        except BaseException:
            await run_in_threadpool(form.abort)
            raise
        out = {"identifier": identifier, "files": stored}
        return Response(orjson.dumps(out), status_code=201, media_type="application/json")

    @router.get(
        path,
        operation_id=f"download_file{suffix}",
        summary="Download a file of the asset (Range, ETag = its sha256)",
    )
    @router.head(
        path, operation_id=f"head_file{suffix}", summary="The headers of a file of the asset"
    )
    async def download_file(
        request: Request,
        catalog: CatalogDep,
        principal: PrincipalDep,
        asset_type: str,
        identifier: str,
        name: str,
    ) -> Response:
        asset = _asset(asset_type)
        data, public = await run_in_threadpool(
            _located, catalog, request, principal, asset, identifier
        )
        try:
            name = checked_name(name)
        except BadName:
            name = ""
        found = dist.find(data, dist.file_url(catalog.base_url, asset, identifier, name))
        sha = str((found or {}).get("checksum") or "").lower()
        files = get_files(request)
        stat = await run_in_threadpool(files.store.stat, sha) if found and sha else None
        if stat is None:
            raise HTTPException(404, f"{asset.label} '{identifier}' has no file {name!r}.")
        etag = f'"{stat.sha256}"'
        headers = {
            "ETag": etag,
            "Accept-Ranges": "bytes",
            "Content-Disposition": content_disposition(name),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": SANDBOX,
            "Cache-Control": "public, no-cache" if public else "private, no-cache",
        }
        kind = str(found.get("encoding_format") or "application/octet-stream") if found else ""
        if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
            return Response(status_code=304, headers=headers)
        if_range = request.headers.get("if-range")
        wanted = None if if_range and if_range != etag else request.headers.get("range")
        span = _parse_range(wanted, stat.size)
        status = 200
        start, end = 0, stat.size
        if span is not None:
            start, end = span
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{stat.size}"
        headers["Content-Length"] = str(end - start)
        if request.method == "HEAD":
            return Response(status_code=status, headers=headers, media_type=kind)
        chunks = files.store.open_range(stat.sha256, start, end)
        return StreamingResponse(chunks, status_code=status, headers=headers, media_type=kind)

    @router.delete(path, operation_id=f"delete_file{suffix}", summary="Delete a file of the asset")
    async def delete_file(
        request: Request,
        catalog: CatalogDep,
        principal: PrincipalDep,
        asset_type: str,
        identifier: str,
        name: str,
    ) -> Response:
        asset = _asset(asset_type)
        name = _name(name)
        access = get_access(request)
        await run_in_threadpool(check_write, catalog, access, principal, asset, identifier)
        files = get_files(request)
        body = await run_in_threadpool(
            _detach, catalog, files, request, principal, asset, identifier, name
        )
        return Response(orjson.dumps(body), media_type="application/json")

    @router.get(
        "/{asset_type}/{identifier}/files",
        operation_id=f"list_files{suffix}",
        summary="The files stored for the asset",
    )
    @router.head(
        "/{asset_type}/{identifier}/files",
        operation_id=f"head_files{suffix}",
        summary="The headers of the asset's list of files",
    )
    async def list_files(
        request: Request,
        catalog: CatalogDep,
        principal: PrincipalDep,
        asset_type: str,
        identifier: str,
    ) -> Response:
        asset = _asset(asset_type)
        data, _ = await run_in_threadpool(_located, catalog, request, principal, asset, identifier)
        prefix = dist.files_prefix(catalog.base_url, asset, identifier)
        out = []
        for name, sha in dist.stored_files(data, prefix):
            found = dist.find(data, dist.file_url(catalog.base_url, asset, identifier, name)) or {}
            out.append(
                {
                    "name": name,
                    "content_url": found.get("content_url"),
                    "sha256": sha,
                    "content_size_kb": found.get("content_size_kb"),
                    "encoding_format": found.get("encoding_format"),
                }
            )
        return Response(orjson.dumps(out), media_type="application/json")

    return router
