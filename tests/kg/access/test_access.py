"""Permissions with AIoD v2 semantics: ownership, grants, roles, the review workflow and
restricted assets, through the HTTP API with signed tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kg.access.rules import ANONYMOUS, AccessControl, AssetFacts, Principal, can_read, visible_where
from kg.store.index import CatalogIndex, Entry
from tests.support.auth import Issuer, auth_client, auth_settings
from tests.support.data import AUTH


class Users:
    def __init__(self, issuer: Issuer) -> None:
        self.alice = issuer.headers("alice", ["edit_aiod_resources"], ["lab"])
        self.bob = issuer.headers("bob", ["edit_aiod_resources"])
        self.carol = issuer.headers("carol", [], ["/hospital"])
        self.rita = issuer.headers("rita", ["review_aiod_resources"])
        self.rick = issuer.headers("rick", ["review_aiod_resources", "edit_aiod_resources"])
        self.maker = issuer.headers("maker", ["create_ml_models"])
        self.editor = issuer.headers("editor", ["update_datasets"])
        self.remover = issuer.headers("remover", ["delete_datasets"])


@pytest.fixture
def env(tmp_path: Path, database_url: str | None) -> Iterator[tuple[TestClient, Users]]:
    issuer = Issuer()
    settings = auth_settings(tmp_path, issuer, search_enabled=False, database=database_url)
    try:
        with auth_client(settings) as (c, _):
            yield c, Users(issuer)
    finally:
        issuer.close()


def create(
    c: TestClient,
    headers: dict[str, str],
    name: str = "A dataset",
    collection: str = "datasets",
    **extra: Any,
) -> str:
    response = c.post(f"/{collection}", json={"name": name, **extra}, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["identifier"])


def status(c: TestClient, identifier: str) -> str:
    return str(c.get(f"/datasets/{identifier}", headers=AUTH).json()["aiod_entry"]["status"])


def test_user_uploads_are_drafts_of_their_creator(env: tuple[TestClient, Users]) -> None:
    c, u = env
    identifier = create(c, u.alice, aiod_entry={"status": "published"})
    assert status(c, identifier) == "draft"  # nobody publishes without review
    got = c.get(f"/datasets/{identifier}", headers=u.alice).json()
    assert got["platform"] == "aiod" and got["platform_resource_identifier"] == identifier
    assert [d["identifier"] for d in c.get("/datasets", headers=u.alice).json()] == [identifier]
    assert c.get("/datasets", headers=u.bob).json() == []
    assert c.get(f"/datasets/{identifier}", headers=u.bob).status_code == 404
    # the owner edits; the status in the body is ignored
    put = c.put(
        f"/datasets/{identifier}",
        headers=u.alice,
        json={"name": "Renamed", "aiod_entry": {"status": "published"}},
    )
    assert put.status_code == 200, put.text
    assert status(c, identifier) == "draft"
    assert c.get(f"/datasets/{identifier}", headers=u.alice).json()["name"] == "Renamed"
    access = c.get(f"/assets/{identifier}/access", headers=u.alice).json()
    assert access == {"identifier": identifier, "owner": "alice", "status": "draft", "grants": []}
    # claiming another platform needs that platform's role
    other = c.post(
        "/datasets",
        headers=u.alice,
        json={"name": "x", "platform": "openml", "platform_resource_identifier": "1"},
    )
    assert other.status_code == 403
    assert c.delete(f"/datasets/{identifier}", headers=u.bob).status_code == 404
    assert c.delete(f"/datasets/{identifier}", headers=u.alice).status_code == 200


def test_grants_to_users_and_groups(env: tuple[TestClient, Users]) -> None:
    c, u = env
    identifier = create(c, u.alice)

    def grant(*grants: dict[str, str]) -> None:
        response = c.put(
            f"/assets/{identifier}/access", headers=u.alice, json={"grants": list(grants)}
        )
        assert response.status_code == 200, response.text

    grant({"user": "bob", "permission": "read"})
    assert c.get(f"/datasets/{identifier}", headers=u.bob).status_code == 200
    assert c.put(f"/datasets/{identifier}", json={"name": "b"}, headers=u.bob).status_code == 403
    assert c.get(f"/assets/{identifier}/access", headers=u.bob).status_code == 403
    grant({"user": "bob", "permission": "write"})
    assert c.put(f"/datasets/{identifier}", json={"name": "b"}, headers=u.bob).status_code == 200
    assert c.delete(f"/datasets/{identifier}", headers=u.bob).status_code == 403
    grant({"group": "hospital", "permission": "read"})  # replaces bob's grant
    assert c.get(f"/datasets/{identifier}", headers=u.bob).status_code == 404
    assert c.get(f"/datasets/{identifier}", headers=u.carol).status_code == 200
    assert [d["identifier"] for d in c.get("/datasets", headers=u.carol).json()] == [identifier]
    assert c.get("/counts/datasets", headers=u.carol).json() == 1
    assert c.get("/counts/datasets").json() == 0
    grant({"user": "bob", "permission": "admin"})
    assert c.get(f"/assets/{identifier}/access", headers=u.bob).status_code == 200
    bad = c.put(
        f"/assets/{identifier}/access",
        headers=u.alice,
        json={"grants": [{"user": "x", "group": "y"}]},
    )
    assert bad.status_code == 422
    assert c.delete(f"/datasets/{identifier}", headers=u.bob).status_code == 200


def test_review_workflow(env: tuple[TestClient, Users]) -> None:
    c, u = env
    identifier = create(c, u.alice)
    assert (
        c.post(f"/reviews/{identifier}", json={"decision": "accept"}, headers=u.rita).status_code
        == 404
    )  # a draft: reviewers do not see it
    assert c.post(f"/submissions/{identifier}", headers=u.bob).status_code == 404
    submitted = c.post(f"/submissions/{identifier}", headers=u.alice, json={"comment": "pls"})
    assert submitted.json() == {"identifier": identifier, "status": "submitted"}
    assert c.post(f"/submissions/{identifier}", headers=u.alice).status_code == 409
    queue = c.get("/submissions", headers=u.rita).json()
    assert [a for s in queue for a in s["asset_identifiers"]] == [identifier]
    own = c.get("/submissions", headers=u.alice).json()
    assert [a for s in own for a in s["asset_identifiers"]] == [identifier]
    assert c.get("/submissions", headers=u.bob).json() == []
    assert c.get(f"/datasets/{identifier}", headers=u.rita).status_code == 200
    assert c.get(f"/datasets/{identifier}").status_code == 404
    # nobody reviews their own, not even an admin-like user with the role
    own = c.post(f"/reviews/{identifier}", json={"decision": "accept"}, headers=u.alice)
    assert own.status_code == 403
    reject = c.post(
        f"/reviews/{identifier}", json={"decision": "reject", "comment": "no"}, headers=u.rita
    )
    assert reject.json()["status"] == "rejected"
    assert c.get(f"/datasets/{identifier}").status_code == 404
    assert c.get(f"/datasets/{identifier}", headers=u.rita).status_code == 404  # not submitted
    # resubmit, retract, resubmit, accept
    assert c.post(f"/submissions/{identifier}", headers=u.alice).status_code == 200
    assert c.delete(f"/submissions/{identifier}", headers=u.alice).json()["status"] == "draft"
    assert c.post(f"/submissions/{identifier}", headers=u.alice).status_code == 200
    # an accept names the version reviewed: none -> 428, another -> 412
    bare = c.post(f"/reviews/{identifier}", json={"decision": "accept"}, headers=u.rita)
    assert bare.status_code == 428
    stale = {**u.rita, "If-Match": '"not-this-version"'}
    refused = c.post(f"/reviews/{identifier}", json={"decision": "accept"}, headers=stale)
    assert refused.status_code == 412
    etag = c.get(f"/datasets/{identifier}", headers=u.rita).headers["etag"]
    accept = c.post(
        f"/reviews/{identifier}", json={"decision": "accept", "etag": etag}, headers=u.rita
    )
    assert accept.json()["status"] == "published"
    assert c.get(f"/datasets/{identifier}").status_code == 200
    assert c.get("/counts/datasets").json() == 1
    history = c.get(f"/reviews/{identifier}", headers=u.alice).json()
    assert [h["action"] for h in history] == [
        "submit",
        "reject",
        "submit",
        "retract",
        "submit",
        "accept",
    ]  # the refused accepts left no trace
    assert history[0]["comment"] == "pls" and history[1]["actor"] == "rita"
    assert c.get(f"/reviews/{identifier}", headers=u.bob).status_code == 403
    assert (
        c.post(f"/reviews/{identifier}", json={"decision": "accept"}, headers=u.rita).status_code
        == 409
    )


def test_a_reviewer_cannot_review_what_they_submitted(env: tuple[TestClient, Users]) -> None:
    c, u = env
    identifier = create(c, u.alice)
    c.put(
        f"/assets/{identifier}/access",
        headers=u.alice,
        json={"grants": [{"user": "rick", "permission": "admin"}]},
    )
    assert c.post(f"/submissions/{identifier}", headers=u.rick).status_code == 200
    assert (
        c.post(f"/reviews/{identifier}", json={"decision": "accept"}, headers=u.rick).status_code
        == 403
    )
    mine = create(c, u.rick)
    c.post(f"/submissions/{mine}", headers=u.rick)
    assert (
        c.post(f"/reviews/{mine}", json={"decision": "accept"}, headers=u.rick).status_code == 403
    )
    assert (
        c.post(f"/reviews/{mine}", json={"decision": "accept"}, headers=u.bob).status_code == 404
    )  # not a reviewer: does not even see it
    assert c.post(f"/reviews/{mine}", json={"decision": "maybe"}, headers=u.rita).status_code == 422


def test_restricted_assets(env: tuple[TestClient, Users]) -> None:
    c, u = env
    identifier = create(c, AUTH, aiod_entry={"status": "published"}, name="Hospital data")
    assert c.get(f"/datasets/{identifier}").status_code == 200
    # the admin created it, so the admin administers it; restricting withdraws it
    changed = c.put(
        f"/assets/{identifier}/access",
        headers=AUTH,
        json={"restricted": True, "grants": [{"group": "hospital", "permission": "read"}]},
    )
    assert changed.json()["status"] == "restricted"
    assert c.get(f"/datasets/{identifier}").status_code == 404
    assert c.get(f"/datasets/{identifier}", headers=u.bob).status_code == 404
    assert c.get(f"/datasets/{identifier}", headers=u.carol).status_code == 200
    query = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
    count = c.get("/sparql", params={"query": query, "format": "json"}).json()
    assert count["results"]["bindings"][0]["n"]["value"] == "0"
    lifted = c.put(f"/assets/{identifier}/access", headers=AUTH, json={"restricted": False})
    assert lifted.json()["status"] == "draft"
    assert c.get(f"/datasets/{identifier}", headers=u.carol).status_code == 200  # still granted
    # a submitted asset cannot be restricted before its submission is retracted
    c.post(f"/submissions/{identifier}", headers=AUTH)
    busy = c.put(f"/assets/{identifier}/access", headers=AUTH, json={"restricted": True})
    assert busy.status_code == 409


def test_type_roles(env: tuple[TestClient, Users]) -> None:
    c, u = env
    # any signed-in user drafts (as AIoD); AIOD_KG_CREATE_REQUIRES_ROLE: test_create_roles
    other = c.post("/datasets", json={"name": "x"}, headers=u.maker)
    assert other.status_code == 200
    assert c.delete(f"/datasets/{other.json()['identifier']}", headers=u.maker).status_code == 200
    model = create(c, u.maker, collection="ml_models", name="A model")
    assert c.get(f"/ml_models/{model}", headers=u.maker).status_code == 200
    draft = create(c, u.alice)
    # update_datasets: reads and edits every dataset, keeps its status, cannot delete
    assert c.get(f"/datasets/{draft}", headers=u.editor).status_code == 200
    assert [d["identifier"] for d in c.get("/datasets", headers=u.editor).json()] == [draft]
    assert (
        c.put(f"/datasets/{draft}", json={"name": "fixed typo"}, headers=u.editor).status_code
        == 200
    )
    assert status(c, draft) == "draft"
    assert c.delete(f"/datasets/{draft}", headers=u.editor).status_code == 403
    assert c.get(f"/ml_models/{model}", headers=u.editor).status_code == 404
    assert c.delete(f"/datasets/{draft}", headers=u.remover).status_code == 200


def test_the_admin_key_still_works_and_sparql_updates_are_admin_only(
    env: tuple[TestClient, Users],
) -> None:
    c, u = env
    identifier = create(c, AUTH, aiod_entry={"status": "published"})
    assert status(c, identifier) == "published"
    update = "INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:b> <urn:c> } }"
    media = {"Content-Type": "application/sparql-update"}
    assert c.post("/sparql", content=update, headers=media).status_code in (401, 403)
    assert c.post("/sparql", content=update, headers={**media, **u.alice}).status_code == 403
    assert c.post("/sparql", content=update, headers={**media, **AUTH}).status_code == 204


def test_visibility_rules_in_sql_and_python_agree(index: CatalogIndex) -> None:
    """``visible_where`` (lists, counts) and ``can_read`` (single assets) give the same answer
    for every combination of status, owner, grant and principal, on SQLite and PostgreSQL."""
    access = AccessControl(index)
    entries = []
    for n, st in enumerate(("published", "draft", "submitted", "rejected", "restricted")):
        for platform in ("aiod", "openml"):
            for owner in ("alice", "bob", None):
                identifier = f"data_{n}{platform[0]}{owner or 'none'}".ljust(29, "x")
                entries.append(
                    Entry(
                        identifier,
                        "datasets",
                        platform,
                        identifier,
                        st,
                        "2024-01-01T00:00:00",
                        "2024-01-01T00:00:00",
                    )
                )
                if owner:
                    access.set_owner(identifier, owner)
    index.commit_entries(entries)
    access.set_grants(entries[1].identifier, [("user", "carol", "read")], "alice")
    access.set_grants(entries[4].identifier, [("group", "hospital", "write")], "alice")
    principals = [
        ANONYMOUS,
        Principal("user", "alice"),
        Principal("user", "carol"),
        Principal("user", "dave", groups=frozenset({"hospital"})),
        Principal("user", "rita", roles=frozenset({"review_aiod_resources"})),
        Principal("api_key", "apikey:1", roles=frozenset({"platform_openml"})),
        Principal("user", "ed", roles=frozenset({"update_datasets"})),
        Principal("admin", "admin", admin=True),
    ]
    for principal in principals:
        where, args = visible_where(principal)
        in_sql = {
            str(r[0])
            for r in index._conn().execute(f"SELECT identifier FROM assets WHERE {where}", args)
        }
        in_python = set()
        for entry in entries:
            facts = access.facts(entry.identifier)
            assert isinstance(facts, AssetFacts)
            if can_read(principal, facts):
                in_python.add(entry.identifier)
        assert in_sql == in_python, principal
    index.close()


def test_create_roles(tmp_path: Path) -> None:
    """Any signed-in user creates drafts; with AIOD_KG_CREATE_REQUIRES_ROLE a role is needed
    (edit_aiod_resources, or create_<type> for one type)."""
    issuer = Issuer()
    try:
        nobody = issuer.headers("nobody", [])
        maker = issuer.headers("maker", ["create_ml_models"])
        with auth_client(auth_settings(tmp_path / "open", issuer, search_enabled=False)) as (
            c,
            _,
        ):
            made = c.post("/datasets", json={"name": "mine"}, headers=nobody)
            assert made.status_code == 200, made.text
            got = c.get(f"/datasets/{made.json()['identifier']}", headers=AUTH).json()
            assert got["aiod_entry"]["status"] == "draft"
            assert c.post("/datasets", json={"name": "x"}).status_code == 401
        strict = auth_settings(
            tmp_path / "strict", issuer, search_enabled=False, create_requires_role=True
        )
        with auth_client(strict) as (c, _):
            assert c.post("/datasets", json={"name": "x"}, headers=nobody).status_code == 403
            assert c.post("/datasets", json={"name": "x"}, headers=maker).status_code == 403
            assert c.post("/ml_models", json={"name": "x"}, headers=maker).status_code == 200
    finally:
        issuer.close()
