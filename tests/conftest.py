"""Shared fixtures: the recorded test data (tests/data, api/demo/recorded), a catalog on a
temporary store, API clients, and a real ``aiod-kg serve`` process on a free port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.demo.replay import RECORDED
from kg.catalog import Catalog
from kg.settings import Settings

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"  # test-only data (see the SOURCES.md files there)
FIXTURES = RECORDED  # recorded OpenML / Hugging Face / Zenodo payloads (package data of api.demo)
AIOD_FIXTURES = DATA / "fixtures" / "aiod"  # AIoD example resources, enums, ...
EXAMPLES = AIOD_FIXTURES / "example_resources"
STANDARDS = DATA / "standards"  # DCAT-AP shapes, Croissant examples, ML vocabularies
SEARCH_EVAL = DATA / "search-eval"  # search relevance corpus (also used by bench/)
ADMIN_KEY = "test-admin-key"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


# AIoD ships example resources for every asset type except these
WITHOUT_EXAMPLES = frozenset({"platforms"})


def example_records(collection: str) -> list[dict[str, Any]]:
    """The AIoD example resources of one collection (``[]`` only for a type AIoD has no
    examples of); missing data is an error, so tests never pass on nothing."""
    if collection in WITHOUT_EXAMPLES:
        return []
    path = EXAMPLES / f"{collection}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no AIoD example resources for {collection!r}: {path}")
    records: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    if not records:
        raise ValueError(f"{path} holds no records")
    return records


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        store=str(tmp_path / "store"), admin_key=ADMIN_KEY, base_url="http://127.0.0.1:8000"
    )


@pytest.fixture
def catalog(settings: Settings) -> Iterator[Catalog]:
    cat = Catalog(settings)
    yield cat
    cat.close()


@pytest.fixture
def client(settings: Settings, catalog: Catalog) -> Iterator[TestClient]:
    with TestClient(create_app(settings, catalog), raise_server_exceptions=False) as c:
        yield c


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


class LiveServer:
    def __init__(self, process: subprocess.Popen[bytes], base_url: str) -> None:
        self.process = process
        self.base_url = base_url


@contextmanager
def running_server(store: Path) -> Iterator[LiveServer]:
    """A real ``aiod-kg serve`` process on a free loopback port."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "AIOD_KG_ADMIN_KEY": ADMIN_KEY,
        "AIOD_KG_BASE_URL": base,
        "AIOD_KG_STORE": str(store),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.cli.main",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(f"{base}/health", timeout=120)
        yield LiveServer(process, base)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A fresh server (empty store) for one test."""
    with running_server(tmp_path / "live-store") as server:
        yield server


@pytest.fixture(scope="module")
def module_live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server shared by the tests of a module (start-up costs seconds)."""
    with running_server(tmp_path_factory.mktemp("live") / "store") as server:
        yield server
