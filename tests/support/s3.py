"""An S3-compatible server for the files tests: moto's standalone server (``moto[server]`` in
the test extra) on a free loopback port, one bucket per test module. ``S3Server.env`` /
``settings`` point ``AIOD_KG_FILES`` at a fresh prefix of it."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.server import free_port, wait_for

ACCESS_KEY = "aiod-kg-test"
SECRET_KEY = "aiod-kg-test-secret"
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str
    process: subprocess.Popen[bytes]

    def location(self) -> str:
        """A fresh ``s3://bucket/prefix`` (tests sharing the server do not see each other)."""
        return f"s3://{self.bucket}/t-{uuid.uuid4().hex[:12]}"

    def env(self, location: str) -> dict[str, str]:
        return {
            "AIOD_KG_FILES": location,
            "AIOD_KG_FILES_S3_ENDPOINT": self.endpoint,
            "AIOD_KG_FILES_S3_REGION": REGION,
            "AIOD_KG_FILES_S3_ACCESS_KEY": ACCESS_KEY,
            "AIOD_KG_FILES_S3_SECRET_KEY": SECRET_KEY,
        }

    def settings(self, location: str) -> dict[str, Any]:
        """Settings keyword arguments for ``location``."""
        return {
            "files": location,
            "files_s3_endpoint": self.endpoint,
            "files_s3_region": REGION,
            "files_s3_access_key": ACCESS_KEY,
            "files_s3_secret_key": SECRET_KEY,
        }

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def keys(self, location: str, under: str = "") -> list[str]:
        """The keys below ``location`` (+ ``under``), e.g. ``objects/`` or ``tmp/``."""
        prefix = location.split("/", 3)[3] + "/" + under
        pages = self.client().get_paginator("list_objects_v2")
        return [
            str(item["Key"])
            for page in pages.paginate(Bucket=self.bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]

    def multipart_uploads(self, location: str) -> list[str]:
        prefix = location.split("/", 3)[3] + "/"
        found = self.client().list_multipart_uploads(Bucket=self.bucket, Prefix=prefix)
        return [str(item["Key"]) for item in found.get("Uploads", [])]


@contextmanager
def running_s3() -> Iterator[S3Server]:
    """``moto_server`` on 127.0.0.1 (stopped on exit) with one bucket."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="moto-", suffix=".log")[1])
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        try:
            wait_for(f"{endpoint}/moto-api/", timeout=60, process=process)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{exc}\n{log.read_text()[-2000:]}") from None
        server = S3Server(endpoint, "aiod-kg-files", process)
        server.client().create_bucket(Bucket=server.bucket)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.unlink(missing_ok=True)
