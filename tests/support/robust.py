"""Helpers of the robustness suites (concurrency, crash safety, hostile input): a real
``aiod-kg serve`` with chosen settings, CLI subprocesses, and store/index consistency checks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from kg.settings import Settings
from tests.support.data import ADMIN_KEY, REPO
from tests.support.server import LiveServer, running_server

BASE = "http://127.0.0.1:8000"


def env_for(store: Path, base: str = BASE, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "AIOD_KG_ADMIN_KEY": ADMIN_KEY,
        "AIOD_KG_BASE_URL": base,
        "AIOD_KG_STORE": str(store),
        "AIOD_KG_WRITE_RATE_LIMIT": "0",
        "AIOD_KG_SEARCH_ENABLED": "false",
        **extra,
    }


@contextmanager
def server(store: Path, log: Path | None = None, **extra: str) -> Iterator[LiveServer]:
    """A real server on a free loopback port (search off unless ``extra`` turns it on)."""
    env = {"AIOD_KG_WRITE_RATE_LIMIT": "0", "AIOD_KG_SEARCH_ENABLED": "false", **extra}
    with running_server(store, env=env, log=log) as live:
        yield live


def cli(store: Path, *args: str, **extra: str) -> subprocess.Popen[bytes]:
    """``aiod-kg ARGS`` as a subprocess on ``store``."""
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", *args],
        cwd=REPO,
        env=env_for(store, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def store_snapshot(catalog: Catalog) -> dict[str, dict[str, Any]]:
    """identifier -> the asset as the STORE holds it (the source of truth)."""
    out: dict[str, dict[str, Any]] = {}
    for iri in catalog.store.graph_names():
        asset, identifier = catalog._parse_iri(iri)
        if asset is None or identifier is None:
            continue
        triples = catalog.store.graph(iri)
        if triples:
            out[identifier] = catalog.from_triples(asset, identifier, triples)
    return out


def assert_index_agrees(catalog: Catalog) -> dict[str, dict[str, Any]]:
    """The catalogue index lists exactly the store's assets, with the same documents;
    nothing is left pending. Returns the store snapshot."""
    assert catalog.index.pending() == []
    stored = store_snapshot(catalog)
    listed: dict[str, dict[str, Any]] = {}
    for asset in ASSET_TYPES.values():
        total = catalog.count(asset)
        assert isinstance(total, int)
        for offset in range(0, total, 1000):
            for doc in catalog.list(asset, offset, 1000):
                listed[str(doc["identifier"])] = doc
    assert set(listed) == set(stored)
    for identifier, doc in stored.items():
        cached = catalog.index.document(identifier)
        if cached is not None:
            cached_doc, doc = _canonical(orjson.loads(cached)), _canonical(doc)
            diff = {
                k: (cached_doc.get(k), doc.get(k))
                for k in set(doc) | set(cached_doc)
                if cached_doc.get(k) != doc.get(k)
            }
            assert not diff, (identifier, diff)
    return stored


_FRACTION = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.0+$")


def _canonical(value: Any) -> Any:
    """Dates as the store writes them back (pyoxigraph drops a zero fraction: ``.000``); the
    write path's document cache keeps the lexical form it was given."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, str):
        return _FRACTION.sub(r"\1", value)
    return value


def open_catalog(store: Path, base: str = BASE) -> Catalog:
    """A catalog on ``store`` whose IRIs start with ``base`` (a server's base URL)."""
    return Catalog(
        Settings(store=str(store), admin_key=ADMIN_KEY, base_url=base, search_enabled=False)
    )
