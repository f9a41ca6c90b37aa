"""Content-addressed files in an S3-compatible object store (``AIOD_KG_FILES=s3://bucket/prefix``).

Layout under the prefix: ``objects/<ab>/<cd>/<sha256>`` (as on local disk) and ``tmp/`` for
uploads in progress. An upload streams as an S3 multipart upload of ``PART`` bytes per part
(one part in memory at a time) to a temporary key while its sha256 is computed; the multipart
upload is completed only after the checksum verifies (otherwise aborted: nothing is stored),
then copied server-side onto its hash and the temporary key deleted. A file smaller than one
part is checked in memory and written directly onto its hash. If the hash's key exists
already the same bytes are stored and nothing is copied (stored once). Downloads are ranged
GETs. Endpoint, region and credentials: ``files_s3_*`` settings (boto3).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from kg.files.store import CHUNK, SHA256_RE, ChecksumMismatch, ObjectStat, TooLarge
from kg.settings import Settings

PART = 8 * 1024 * 1024  # S3 parts are at least 5 MiB (but the last)
_MULTIPART_MARK = "multipart:"


def parse_location(location: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix without slashes at its ends)."""
    parts = urlsplit(location)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"Not an s3://bucket/prefix location: {location!r}")
    return parts.netloc, parts.path.strip("/")


def client_for(settings: Settings) -> Any:
    """A boto3 S3 client from the ``files_s3_*`` settings (path-style with an endpoint)."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise RuntimeError(
            "AIOD_KG_FILES=s3://... needs boto3: pip install 'aiod-kg[s3]'."
        ) from None

    config = Config(
        region_name=settings.files_s3_region,
        s3={"addressing_style": "path" if settings.files_s3_endpoint else "auto"},
        # S3-compatible servers differ in the checksums they accept; ours is sha256 anyway
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"max_attempts": 3, "mode": "standard"},
    )
    access = settings.files_s3_access_key
    secret = settings.files_s3_secret_key
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.files_s3_endpoint,
        aws_access_key_id=access.get_secret_value() if access else None,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        config=config,
    )


def _missing(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound", "NoSuchUpload")


class S3Upload:
    """One object being written; see ``kg.files.store.Upload``."""

    def __init__(self, store: S3FileStore, max_bytes: int | None) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.size = 0
        self._hash = hashlib.sha256()
        self._buffer = bytearray()
        self._key = store.key(f"tmp/upload-{uuid.uuid4().hex}")
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._done = False

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.max_bytes is not None and self.size > self.max_bytes:
            self.abort()
            raise TooLarge(f"The file is larger than {self.max_bytes} bytes.")
        self._hash.update(data)
        self._buffer += data
        while len(self._buffer) >= PART:
            self._send(bytes(self._buffer[:PART]))
            del self._buffer[:PART]

    def _send(self, part: bytes) -> None:
        s3 = self.store.s3
        if self._upload_id is None:
            created = s3.create_multipart_upload(Bucket=self.store.bucket, Key=self._key)
            self._upload_id = str(created["UploadId"])
        number = len(self._parts) + 1
        sent = s3.upload_part(
            Bucket=self.store.bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=part,
        )
        self._parts.append({"ETag": sent["ETag"], "PartNumber": number})

    def commit(self, expected_sha256: str | None = None) -> ObjectStat:
        digest = self._hash.hexdigest()
        if expected_sha256 is not None and expected_sha256.lower() != digest:
            self.abort()
            raise ChecksumMismatch(
                f"The content's sha256 is {digest}, not the announced {expected_sha256}."
            )
        store, s3 = self.store, self.store.s3
        target = store.object_key(digest)
        try:
            if store.stat(digest) is not None:  # the same content is stored already
                self.abort()
                return ObjectStat(digest, self.size)
            if self._upload_id is None:  # smaller than a part: checked, written in one go
                s3.put_object(Bucket=store.bucket, Key=target, Body=bytes(self._buffer))
                self._buffer = bytearray()
                self._done = True
                return ObjectStat(digest, self.size)
            if self._buffer:
                self._send(bytes(self._buffer))
                self._buffer = bytearray()
            s3.complete_multipart_upload(
                Bucket=store.bucket,
                Key=self._key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
            self._upload_id = None
            # server-side copy (multipart copy above boto3's threshold): no bytes pass here
            s3.copy({"Bucket": store.bucket, "Key": self._key}, store.bucket, target)
        except BaseException:
            self.abort()
            raise
        s3.delete_object(Bucket=store.bucket, Key=self._key)
        self._done = True
        return ObjectStat(digest, self.size)

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        self._buffer = bytearray()
        s3 = self.store.s3
        try:
            if self._upload_id is not None:
                s3.abort_multipart_upload(
                    Bucket=self.store.bucket, Key=self._key, UploadId=self._upload_id
                )
            s3.delete_object(Bucket=self.store.bucket, Key=self._key)
        except Exception:  # best effort; ``files verify --clean-temp`` sweeps the rest
            pass


class S3FileStore:
    """``kg.files.store.FileStore`` over an S3 bucket and key prefix."""

    def __init__(self, bucket: str, prefix: str, s3: Any, endpoint: str | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.s3 = s3
        self.endpoint = endpoint

    @classmethod
    def from_settings(cls, location: str, settings: Settings) -> S3FileStore:
        bucket, prefix = parse_location(location)
        return cls(bucket, prefix, client_for(settings), settings.files_s3_endpoint)

    def describe(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        return f"{where} ({self.endpoint})" if self.endpoint else where

    def key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def object_key(self, sha256: str) -> str:
        if not SHA256_RE.match(sha256):
            raise ValueError("not a sha256")
        return self.key(f"objects/{sha256[:2]}/{sha256[2:4]}/{sha256}")

    def upload(self, max_bytes: int | None = None) -> S3Upload:
        return S3Upload(self, max_bytes)

    def stat(self, sha256: str) -> ObjectStat | None:
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=self.object_key(sha256))
        except ValueError:
            return None
        except Exception as exc:
            if _missing(exc):
                return None
            raise
        return ObjectStat(sha256, int(head["ContentLength"]))

    def open_range(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        if end is not None and end <= start:
            return
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": self.object_key(sha256)}
        if start or end is not None:
            arguments["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        body = self.s3.get_object(**arguments)["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def delete(self, sha256: str) -> bool:
        if self.stat(sha256) is None:
            return False
        self.s3.delete_object(Bucket=self.bucket, Key=self.object_key(sha256))
        return True

    def iterate(self) -> Iterator[ObjectStat]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.key("objects/")
        )
        for page in pages:
            for item in page.get("Contents", []):
                name = str(item["Key"]).rsplit("/", 1)[-1]
                if SHA256_RE.match(name):
                    yield ObjectStat(name, int(item["Size"]))

    def temporary(self) -> list[tuple[str, float]]:
        """Leftovers of interrupted uploads (temporary keys and unfinished multipart uploads)
        with their age in seconds."""
        now = datetime.now(UTC)
        found: list[tuple[str, float]] = []
        prefix = self.key("tmp/")
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                found.append((str(item["Key"]), (now - item["LastModified"]).total_seconds()))
        uploads = self.s3.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        for page in uploads:
            for item in page.get("Uploads", []):
                name = f"{_MULTIPART_MARK}{item['UploadId']}:{item['Key']}"
                found.append((name, (now - item["Initiated"]).total_seconds()))
        return sorted(found)

    def remove_temporary(self, name: str) -> None:
        if name.startswith(_MULTIPART_MARK):
            upload_id, _, key = name[len(_MULTIPART_MARK) :].partition(":")
            try:
                self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except Exception as exc:
                if not _missing(exc):
                    raise
            return
        self.s3.delete_object(Bucket=self.bucket, Key=name)
