"""Helpers of the harvest tests: a replay server on loopback, a harvester with instant
retries, and a comparable snapshot of a catalog."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from api.demo.replay import ReplayData, ReplayServer
from kg.catalog import Catalog
from kg.harvest import Harvester, Http
from kg.model.fields import ASSET_TYPES, Kind
from tests.support.data import FIXTURES

SERVER_FIELDS = {"identifier", "ai_resource_identifier", "ai_asset_identifier", "agent_identifier"}


@contextmanager
def replay(data: ReplayData | None = None, **kw: Any) -> Iterator[ReplayServer]:
    with ReplayServer(data or ReplayData.from_fixtures(FIXTURES), **kw) as server:
        yield server


class RecordingSleep:
    """Stands in for time.sleep: records the delays, waits for none."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def harvester(catalog: Catalog, sleep: RecordingSleep | None = None, **http: Any) -> Harvester:
    options = {"backoff": 0.01, "max_retries": 3, "timeout": 10.0, **http}
    return Harvester(catalog, http=Http(sleep=sleep or RecordingSleep(), **options), progress=False)


def find(catalog: Catalog, collection: str, platform: str, resource_id: str) -> dict[str, Any]:
    return catalog.by_platform(ASSET_TYPES[collection], platform, resource_id)


def snapshot(catalog: Catalog) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Every live asset by (type, platform, platform id), without server-set values and with
    references written as the referenced asset's platform key, so that two catalogs built
    independently compare equal when they hold the same content."""
    keys: dict[str, tuple[str, str, str]] = {}
    assets: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, asset in ASSET_TYPES.items():
        for identifier in catalog.index.identifiers(name):
            data = catalog.get(asset, identifier)
            keys[identifier] = (
                name,
                str(data.get("platform")),
                str(data.get("platform_resource_identifier")),
            )
            assets[identifier] = (name, data)
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for identifier, (name, data) in assets.items():
        asset = ASSET_TYPES[name]
        body = {k: v for k, v in data.items() if k not in SERVER_FIELDS}
        entry = dict(body.get("aiod_entry") or {})
        entry.pop("date_created", None)
        entry.pop("date_modified", None)
        body["aiod_entry"] = entry
        for fld in asset.fields:
            if fld.kind is Kind.REF and fld.name in body:
                value = body[fld.name]
                refs = value if isinstance(value, list) else [value]
                body[fld.name] = sorted(keys.get(r, ("?", "?", str(r))) for r in refs)
        key = keys[identifier]
        assert key not in out, f"duplicate asset for {key}"
        out[key] = body
    return out
