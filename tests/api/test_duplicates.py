"""``/duplicates`` against a real ``aiod-kg serve``: lookalike records of two platforms are
proposed (never merged), only moderators see and decide them (401 anonymous, 403 a user
without the role, a moderator of another type sees nothing), a confirmed pair becomes the
same work in the derived link graph (SPARQL), errors use the one envelope."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.data import AUTH
from tests.support.server import running_server, starts_server

DESCRIPTION = "Hourly power output and wind speed of the turbines of a North Sea wind farm."


@dataclass
class World:
    base: str
    ids: list[str]
    keys: dict[str, str]  # role -> API key

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


def _dataset(name: str, platform: str, resource: str) -> dict[str, Any]:
    return {
        "name": name,
        "platform": platform,
        "platform_resource_identifier": resource,
        "description": {"plain": DESCRIPTION},
    }


def _proposals(world: World, who: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = httpx.get(f"{world.base}/duplicates", headers=who, params=params, timeout=30)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


@pytest.fixture(scope="module")
@starts_server
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    store: Path = tmp_path_factory.mktemp("duplicates") / "store"
    with running_server(store, env={"AIOD_KG_SEARCH_ENABLED": "false"}) as server:
        base = server.base_url
        ids = []
        for name, platform, resource in (
            ("North Sea wind farm output", "zenodo", "z1"),
            ("North-Sea wind farm output", "openml", "o1"),
        ):
            created = httpx.post(
                f"{base}/datasets", headers=AUTH, json=_dataset(name, platform, resource)
            )
            assert created.status_code == 200, created.text
            ids.append(created.json()["identifier"])
        keys = {}
        for who, roles in (
            ("moderator", ["update_datasets"]),
            ("other_moderator", ["update_ml_models"]),
            ("user", []),
        ):
            made = httpx.post(
                f"{base}/api_keys", headers=AUTH, json={"name": who, "roles": roles}, timeout=30
            )
            assert made.status_code == 200, made.text
            keys[who] = made.json()["key"]
        yield World(base, ids, keys)


def test_lookalikes_are_proposed_to_moderators_only(world: World) -> None:
    deadline = time.monotonic() + 60
    while not (found := _proposals(world, world.headers("moderator"))):
        assert time.monotonic() < deadline, "no proposal within 60 s"
        time.sleep(0.2)
    (proposal,) = found
    assert sorted(proposal["identifiers"]) == sorted(world.ids)
    assert proposal["type"] == "datasets" and proposal["status"] == "proposed"
    assert 0.85 <= proposal["score"] <= 1 and set(proposal["evidence"]) >= {"name", "description"}
    assert _proposals(world, AUTH) == found  # admins see every type
    assert _proposals(world, world.headers("other_moderator")) == []

    anonymous = httpx.get(f"{world.base}/duplicates")
    assert anonymous.status_code == 401 and set(anonymous.json()) == {"detail", "reference"}
    user = httpx.get(f"{world.base}/duplicates", headers=world.headers("user"))
    assert user.status_code == 403 and "reference" in user.json()
    # authorisation before anything else: the same answers for an unknown proposal
    assert httpx.post(f"{world.base}/duplicates/999/confirm").status_code == 401
    denied = httpx.post(
        f"{world.base}/duplicates/{proposal['id']}/confirm",
        headers=world.headers("other_moderator"),
    )
    assert denied.status_code == 403, denied.text
    # not merged: the derived graph holds no sameAs yet
    assert not _same_as(world)


def _same_as(world: World) -> list[dict[str, Any]]:
    query = "SELECT ?a ?b WHERE { GRAPH ?g { ?a <https://schema.org/sameAs> ?b } }"
    response = httpx.get(
        f"{world.base}/sparql",
        params={"query": query},
        headers={"Accept": "application/sparql-results+json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return list(response.json()["results"]["bindings"])


def test_a_moderator_confirms_and_rejects(world: World) -> None:
    (proposal,) = _proposals(world, world.headers("moderator"))
    url = f"{world.base}/duplicates/{proposal['id']}"
    confirmed = httpx.post(f"{url}/confirm", headers=world.headers("moderator"), timeout=30)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
    assert _proposals(world, AUTH) == []
    (decided,) = _proposals(world, AUTH, status="confirmed")
    assert decided["decided_by"] and decided["decided_at"]
    pairs = {
        (b["a"]["value"].rsplit("/", 1)[-1], b["b"]["value"].rsplit("/", 1)[-1])
        for b in _same_as(world)
    }
    assert pairs == {(world.ids[0], world.ids[1]), (world.ids[1], world.ids[0])}

    rejected = httpx.post(f"{url}/reject", headers=AUTH, timeout=30)
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert not _same_as(world)


def test_errors_use_the_envelope(world: World) -> None:
    missing = httpx.post(f"{world.base}/duplicates/424242/reject", headers=AUTH)
    assert missing.status_code == 404 and set(missing.json()) == {"detail", "reference"}
    for bad in ("abc", "0", str(2**70)):
        response = httpx.post(f"{world.base}/duplicates/{bad}/confirm", headers=AUTH)
        assert response.status_code == 422 and "reference" in response.json(), bad
    wrong = httpx.get(f"{world.base}/duplicates", headers=AUTH, params={"status": "maybe"})
    assert wrong.status_code == 422 and "reference" in wrong.json()
    unknown = httpx.get(f"{world.base}/duplicates", headers=AUTH, params={"type": "nope"})
    assert unknown.status_code == 422 and "reference" in unknown.json()
