"""Integrity of writes against a real ``aiod-kg serve`` (API keys made with the admin key):
accepts bound to the version reviewed, edits of published assets held for review, connector
keys kept on their platform, withdrawals announced by OAI-PMH, If-Match lists, backup paths;
and the status-change race against the real catalog with threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest

from kg.access.rules import AccessControl
from kg.access.workflow import Workflow
from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from kg.settings import Settings
from tests.support.data import ADMIN_KEY, AUTH
from tests.support.robust import server
from tests.support.server import starts_server

OAI = {"o": "http://www.openarchives.org/OAI/2.0/"}


class World:
    def __init__(self, base: str) -> None:
        self.http = httpx.Client(base_url=base, timeout=60)
        self.alice = self.key("alice", "edit_aiod_resources")
        self.bob = self.key("bob", "edit_aiod_resources")
        self.rita = self.key("rita", "review_aiod_resources")
        self.connector = self.key("connector", "platform_example")

    def key(self, name: str, *roles: str) -> dict[str, str]:
        made = self.http.post("/api_keys", json={"name": name, "roles": list(roles)}, headers=AUTH)
        assert made.status_code == 200, made.text
        return {"Authorization": f"Bearer {made.json()['key']}"}

    def create(self, headers: dict[str, str], **record: Any) -> str:
        made = self.http.post("/datasets", json={"name": "x", **record}, headers=headers)
        assert made.status_code == 200, made.text
        return str(made.json()["identifier"])

    def etag(self, identifier: str, headers: dict[str, str]) -> str:
        answer = self.http.get(f"/datasets/{identifier}", headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.headers["etag"]

    def review(self, identifier: str, decision: str = "accept", **extra: Any) -> httpx.Response:
        headers = {**self.rita, **extra.pop("headers", {})}
        return self.http.post(
            f"/reviews/{identifier}", json={"decision": decision, **extra}, headers=headers
        )

    def published(self, identifier: str) -> dict[str, Any] | None:
        answer = self.http.get(f"/datasets/{identifier}")
        return answer.json() if answer.status_code == 200 else None

    def oai_header(self, identifier: str) -> ElementTree.Element:
        answer = self.http.get(
            "/oai",
            params={
                "verb": "GetRecord",
                "identifier": f"oai:127.0.0.1:{identifier}",
                "metadataPrefix": "oai_dc",
            },
        )
        header = ElementTree.fromstring(answer.content).find(".//o:header", OAI)
        assert header is not None, answer.text
        return header

    def listed(self, identifier: str) -> list[ElementTree.Element]:
        answer = self.http.get(
            "/oai", params={"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"}
        )
        root = ElementTree.fromstring(answer.content)
        return [
            h
            for h in root.iterfind(".//o:header", OAI)
            if h.findtext("o:identifier", namespaces=OAI) == f"oai:127.0.0.1:{identifier}"
        ]


@pytest.fixture(scope="module")
@starts_server
def world(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str | None
) -> Iterator[World]:
    root = tmp_path_factory.mktemp("integrity")
    extra = {"AIOD_KG_DATABASE": module_database_url} if module_database_url else {}
    with server(root / "store", None, AIOD_KG_BACKUP_DIR=str(root / "backups"), **extra) as live:
        w = World(live.base_url)
        try:
            yield w
        finally:
            w.http.close()


def test_an_accept_is_bound_to_the_version_reviewed(world: World) -> None:
    w = world
    identifier = w.create(w.alice, description={"plain": "first"})
    assert w.http.post(f"/submissions/{identifier}", headers=w.alice).status_code == 200
    seen = w.etag(identifier, w.rita)
    # the owner changes the submission after the reviewer read it
    changed = w.http.put(
        f"/datasets/{identifier}",
        json={"name": "x", "description": {"plain": "swapped after review"}},
        headers=w.alice,
    )
    assert changed.status_code == 200, changed.text
    assert w.review(identifier).status_code == 428  # no version named
    stale = w.review(identifier, etag=seen)
    assert stale.status_code == 412
    assert set(stale.json()) >= {"detail", "reference"}
    assert w.review(identifier, headers={"If-Match": seen}).status_code == 412
    assert w.published(identifier) is None  # nothing was published
    accepted = w.review(identifier, headers={"If-Match": w.etag(identifier, w.rita)})
    assert accepted.status_code == 200, accepted.text
    public = w.published(identifier)
    assert public is not None and public["description"]["plain"] == "swapped after review"


def test_an_edit_of_a_published_asset_waits_for_review(world: World) -> None:
    w = world
    identifier = w.create(w.alice, description={"plain": "reviewed text"})
    w.http.post(f"/submissions/{identifier}", headers=w.alice)
    assert w.review(identifier, etag=w.etag(identifier, w.rita)).status_code == 200
    edit = w.http.put(
        f"/datasets/{identifier}",
        json={"name": "x", "description": {"plain": "unreviewed text"}},
        headers=w.alice,
    )
    assert edit.status_code == 200, edit.text
    assert edit.json()["pending_review"] is True
    public = w.published(identifier)
    assert public is not None and public["description"]["plain"] == "reviewed text"
    assert public["aiod_entry"]["status"] == "published"
    sparql = w.http.get(
        "/sparql", params={"query": 'ASK { ?s ?p "unreviewed text" }'}, headers=AUTH
    )
    assert sparql.status_code == 200 and sparql.json()["boolean"] is False
    # the reviewer sees the pending revision and its ETag; others do not
    assert w.http.get(f"/submissions/{identifier}", headers=w.bob).status_code == 404
    pending = w.http.get(f"/submissions/{identifier}", headers=w.rita)
    assert pending.status_code == 200
    assert pending.json()["description"]["plain"] == "unreviewed text"
    queue = w.http.get("/submissions", headers=w.rita).json()
    assert identifier in [a for q in queue for a in q["asset_identifiers"]]
    # the owner edits again: the ETag the reviewer holds no longer matches
    w.http.put(
        f"/datasets/{identifier}",
        json={"name": "x", "description": {"plain": "second edit"}},
        headers=w.alice,
    )
    assert w.review(identifier, etag=pending.headers["etag"]).status_code == 412
    again = w.http.get(f"/submissions/{identifier}", headers=w.rita)
    assert w.review(identifier, etag=again.headers["etag"]).status_code == 200
    public = w.published(identifier)
    assert public is not None and public["description"]["plain"] == "second edit"
    assert w.http.get(f"/submissions/{identifier}", headers=w.rita).status_code == 404


def test_a_connector_key_stays_on_its_platform(world: World) -> None:
    w = world
    mine = w.create(w.connector, platform="example", platform_resource_identifier="c-1")
    draft = w.create(w.alice)  # somebody's draft, invisible to the connector
    moved = w.http.put(
        f"/datasets/{mine}",
        json={"name": "x", "platform": "zenodo", "platform_resource_identifier": "c-1"},
        headers=w.connector,
    )
    assert moved.status_code == 403
    probe = w.http.put(
        f"/datasets/{mine}",
        json={"name": "x", "platform": "aiod", "platform_resource_identifier": draft},
        headers=w.connector,
    )
    assert probe.status_code == 403
    assert draft not in probe.text
    # a PUT without platform keeps the asset where it is
    kept = w.http.put(f"/datasets/{mine}", json={"name": "renamed"}, headers=w.connector)
    assert kept.status_code == 200, kept.text
    stored = w.http.get(f"/datasets/{mine}").json()
    assert (stored["platform"], stored["platform_resource_identifier"]) == ("example", "c-1")
    # a user upload naming another asset's identity gets its own (no 409 to probe with)
    upload = w.http.post(
        "/datasets",
        json={"name": "x", "platform": "aiod", "platform_resource_identifier": draft},
        headers=w.bob,
    )
    assert upload.status_code == 200 and draft not in upload.text


@pytest.mark.parametrize("withdraw", ["restrict", "unpublish", "restrict-delete", "delete"])
def test_withdrawn_assets_are_deleted_records_in_oai(world: World, withdraw: str) -> None:
    w = world
    identifier = w.create(w.alice)
    w.http.post(f"/submissions/{identifier}", headers=w.alice)
    w.review(identifier, etag=w.etag(identifier, w.rita))
    before = w.oai_header(identifier)
    assert before.get("status") is None
    if withdraw.startswith("restrict"):
        answer = w.http.put(
            f"/assets/{identifier}/access", json={"restricted": True}, headers=w.alice
        )
        assert answer.status_code == 200, answer.text
    if withdraw == "unpublish":
        answer = w.http.put(
            f"/datasets/{identifier}",
            json={"name": "x", "aiod_entry": {"status": "draft"}},
            headers=AUTH,
        )
        assert answer.status_code == 200, answer.text
    if withdraw.endswith("delete"):
        assert w.http.delete(f"/datasets/{identifier}", headers=w.alice).status_code == 200
    header = w.oai_header(identifier)
    assert header.get("status") == "deleted"
    stamp = header.findtext("o:datestamp", namespaces=OAI) or ""
    assert stamp >= (before.findtext("o:datestamp", namespaces=OAI) or "") and stamp
    (listed,) = w.listed(identifier)
    assert listed.get("status") == "deleted"
    assert w.http.get(f"/datasets/{identifier}").status_code == 404


def test_a_draft_never_public_leaves_no_oai_trace(world: World) -> None:
    w = world
    identifier = w.create(w.alice)
    w.http.put(f"/assets/{identifier}/access", json={"restricted": True}, headers=w.alice)
    w.http.delete(f"/datasets/{identifier}", headers=w.alice)
    assert w.listed(identifier) == []
    answer = w.http.get(
        "/oai",
        params={
            "verb": "GetRecord",
            "identifier": f"oai:127.0.0.1:{identifier}",
            "metadataPrefix": "oai_dc",
        },
    )
    assert b"idDoesNotExist" in answer.content


def test_if_match_lists(world: World) -> None:
    w = world
    identifier = w.create(AUTH, aiod_entry={"status": "published"})

    def put(if_match: str | list[str]) -> int:
        headers = list(AUTH.items())
        for value in [if_match] if isinstance(if_match, str) else if_match:
            headers.append(("If-Match", value))
        return w.http.put(
            f"/datasets/{identifier}", json={"name": "x"}, headers=headers
        ).status_code

    assert put(f'"other", {w.etag(identifier, AUTH)}') == 200
    assert put(['"other"', w.etag(identifier, AUTH)]) == 200  # two header lines
    assert put(f"W/{w.etag(identifier, AUTH)}") == 412  # weak never matches (strong)
    assert put('"other", "another"') == 412
    assert put("not-a-tag") == 412
    assert put("*") == 200


def test_backups_only_under_the_backup_directory(world: World, tmp_path: Path) -> None:
    w = world
    for directory in ("../escape", str(tmp_path / "outside"), "/etc/aiodkg", ".", "a/../../b"):
        answer = w.http.post("/admin/backup", json={"directory": directory}, headers=AUTH)
        assert answer.status_code == 400, (directory, answer.text)
        assert set(answer.json()) >= {"detail", "reference"}
    assert not (tmp_path / "outside").exists()
    made = w.http.post("/admin/backup", json={"directory": "nightly/1"}, headers=AUTH)
    assert made.status_code == 200, made.text


def test_status_changes_never_lose_a_concurrent_edit(
    tmp_path: Path, database_url: str | None
) -> None:
    """Against the real catalog: one thread edits, one flips the status; the last edit
    always survives (the status change reads and writes under the write lock)."""
    settings = Settings(
        store=str(tmp_path / "store"),
        admin_key=ADMIN_KEY,
        search_enabled=False,
        database=database_url,
    )
    catalog = Catalog(settings)
    try:
        datasets = ASSET_TYPES["datasets"]
        identifier = catalog.create(
            datasets, {"name": "race", "version": "0", "aiod_entry": {"status": "submitted"}}
        )
        flow = Workflow(catalog, AccessControl(catalog.index))
        rounds = 40
        errors: list[BaseException] = []

        def edit() -> None:
            try:
                for n in range(1, rounds + 1):
                    catalog.replace(datasets, identifier, {"name": "race", "version": str(n)})
            except BaseException as exc:
                errors.append(exc)

        def flip() -> None:
            try:
                for n in range(rounds):
                    flow.set_status(datasets, identifier, "draft" if n % 2 else "submitted")
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=edit), threading.Thread(target=flip)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert catalog.get(datasets, identifier)["version"] == str(rounds)
    finally:
        catalog.close()
