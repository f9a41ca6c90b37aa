"""AIoD's review API shape: POST /submissions with several assets, GET /submissions?mode=,
GET /submissions/{number}, POST /submissions/retract/{number}, POST /reviews; the version
binding of a multi-asset accept; aiod-kg's rules kept (nobody reviews their own)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.auth import Issuer, auth_client, auth_settings
from tests.support.data import AUTH


class Users:
    def __init__(self, issuer: Issuer) -> None:
        self.alice = issuer.headers("alice", ["edit_aiod_resources"])
        self.bob = issuer.headers("bob", ["edit_aiod_resources"])
        self.rita = issuer.headers("rita", ["review_aiod_resources"])


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[TestClient, Users]]:
    issuer = Issuer()
    try:
        with auth_client(auth_settings(tmp_path, issuer, search_enabled=False)) as (c, _):
            yield c, Users(issuer)
    finally:
        issuer.close()


def draft(c: TestClient, headers: dict[str, str], name: str, collection: str = "datasets") -> str:
    response = c.post(f"/{collection}", json={"name": name}, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["identifier"])


def status(c: TestClient, collection: str, identifier: str) -> str:
    return str(c.get(f"/{collection}/{identifier}", headers=AUTH).json()["aiod_entry"]["status"])


def submit(c: TestClient, headers: dict[str, str], *identifiers: str) -> int:
    response = c.post(
        "/submissions",
        json={"asset_identifiers": list(identifiers), "comment": "please"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return int(response.json()["submission_identifier"])


def test_a_submission_holds_several_assets_and_one_decision_publishes_them(
    env: tuple[TestClient, Users],
) -> None:
    c, u = env
    dataset = draft(c, u.alice, "Data")
    model = draft(c, u.alice, "Model", "ml_models")
    number = submit(c, u.alice, dataset, model)
    assert status(c, "datasets", dataset) == status(c, "ml_models", model) == "submitted"

    queue = c.get("/submissions", headers=u.rita).json()
    assert [(s["identifier"], s["asset_identifiers"], s["status"]) for s in queue] == [
        (number, [dataset, model], "pending")
    ]
    assert c.get("/submissions", headers=u.bob).json() == []  # others see their own only
    view = c.get(f"/submissions/{number}", headers=u.rita).json()
    assert view["comment"] == "please" and view["requestee_identifier"] == "alice"
    assert [a["asset"]["name"] for a in view["assets"]] == ["Data", "Model"]
    assert not any(a["changed_since_submission"] for a in view["assets"])
    assert c.get(f"/submissions/{number}", headers=u.bob).status_code == 404

    # nobody reviews their own; an unknown decision is a 422
    own = c.post(
        "/reviews", json={"submission_identifier": number, "decision": "accepted"}, headers=u.alice
    )
    assert own.status_code == 403
    odd = c.post(
        "/reviews", json={"submission_identifier": number, "decision": "maybe"}, headers=u.rita
    )
    assert odd.status_code == 422

    review = c.post(
        "/reviews",
        json={"submission_identifier": number, "decision": "accepted", "comment": "fine"},
        headers=u.rita,
    )
    assert review.status_code == 200, review.text
    assert review.json()["decision"] == "accepted" and review.json()["comment"] == "fine"
    assert status(c, "datasets", dataset) == status(c, "ml_models", model) == "published"
    assert c.get(f"/datasets/{dataset}").status_code == 200  # public now
    again = c.post(
        "/reviews", json={"submission_identifier": number, "decision": "rejected"}, headers=u.rita
    )
    assert again.status_code == 409  # one decision per submission
    assert c.get("/submissions?mode=pending", headers=u.rita).json() == []
    completed = c.get("/submissions?mode=completed", headers=u.rita).json()
    assert [s["status"] for s in completed] == ["accepted"]
    history = c.get(f"/reviews/{dataset}", headers=u.alice).json()
    assert [h["action"] for h in history] == ["submit", "accept"]


def test_submitting_is_all_or_nothing(env: tuple[TestClient, Users]) -> None:
    c, u = env
    mine = draft(c, u.alice, "Mine")
    theirs = draft(c, u.bob, "Theirs")
    refused = c.post("/submissions", json={"asset_identifiers": [mine, theirs]}, headers=u.alice)
    assert refused.status_code == 404  # bob's draft does not exist for alice
    assert status(c, "datasets", mine) == "draft"  # nothing was submitted
    assert (
        c.post("/submissions", json={"asset_identifiers": []}, headers=u.alice).status_code == 422
    )
    twice = c.post("/submissions", json={"asset_identifiers": [mine, mine]}, headers=u.alice)
    assert twice.status_code == 400
    anonymous = c.post("/submissions", json={"asset_identifiers": [mine]})
    assert anonymous.status_code == 401
    submit(c, u.alice, mine)
    resubmit = c.post("/submissions", json={"asset_identifiers": [mine]}, headers=u.alice)
    assert resubmit.status_code == 409


def test_an_accept_binds_the_versions_submitted(env: tuple[TestClient, Users]) -> None:
    c, u = env
    first = draft(c, u.alice, "First")
    second = draft(c, u.alice, "Second")
    number = submit(c, u.alice, first, second)
    # the owner changes one asset after submitting: the submission no longer names it
    put = c.put(f"/datasets/{second}", json={"name": "Swapped"}, headers=u.alice)
    assert put.status_code == 200, put.text
    view = c.get(f"/submissions/{number}", headers=u.rita).json()
    assert [a["changed_since_submission"] for a in view["assets"]] == [False, True]
    stale = c.post(
        "/reviews", json={"submission_identifier": number, "decision": "accepted"}, headers=u.rita
    )
    assert stale.status_code == 412
    assert set(stale.json()) >= {"detail", "reference"}
    assert status(c, "datasets", first) == "submitted"  # nothing published
    # naming an old version does not help; naming the versions now read does
    old = [a["submitted_etag"] for a in view["assets"]]
    named_old = c.post(
        "/reviews",
        json={"submission_identifier": number, "decision": "accepted", "etag": old},
        headers=u.rita,
    )
    assert named_old.status_code == 412
    current = [a["etag"] for a in view["assets"]]
    named = c.post(
        "/reviews",
        json={"submission_identifier": number, "decision": "accepted", "etag": current},
        headers=u.rita,
    )
    assert named.status_code == 200, named.text
    assert c.get(f"/datasets/{second}").json()["name"] == "Swapped"


def test_reject_and_retract(env: tuple[TestClient, Users]) -> None:
    c, u = env
    one = draft(c, u.alice, "One")
    number = submit(c, u.alice, one)
    assert c.post(f"/submissions/retract/{number}", headers=u.bob).status_code == 404
    retracted = c.post(f"/submissions/retract/{number}", headers=u.alice)
    assert retracted.status_code == 200, retracted.text
    assert retracted.json()["decision"] == "retracted"
    assert status(c, "datasets", one) == "draft"
    assert c.post(f"/submissions/retract/{number}", headers=u.alice).status_code == 409
    number = submit(c, u.alice, one)
    rejected = c.post(
        "/reviews",
        json={"submission_identifier": number, "decision": "rejected", "comment": "no licence"},
        headers=u.rita,
    )
    assert rejected.status_code == 200
    assert status(c, "datasets", one) == "rejected"
    mine = c.get("/submissions?mode=all", headers=u.alice).json()
    assert [s["status"] for s in mine] == ["retracted", "rejected"]
    assert mine[1]["reviews"][0]["comment"] == "no licence"
    assert c.get("/submissions?mode=newest", headers=u.alice).json() == []  # none pending
    assert c.get("/submissions/999999", headers=u.rita).status_code == 404
    assert (
        c.post(
            "/reviews",
            json={"submission_identifier": 999999, "decision": "rejected"},
            headers=u.rita,
        ).status_code
        == 404
    )


def test_an_edit_of_a_published_asset_is_a_submission(env: tuple[TestClient, Users]) -> None:
    c, u = env
    identifier = draft(c, u.alice, "Reviewed")
    number = submit(c, u.alice, identifier)
    c.post(
        "/reviews", json={"submission_identifier": number, "decision": "accepted"}, headers=u.rita
    )
    edit = c.put(f"/datasets/{identifier}", json={"name": "Unreviewed"}, headers=u.alice)
    assert edit.json()["pending_review"] is True
    assert c.get(f"/datasets/{identifier}").json()["name"] == "Reviewed"  # still public
    (pending,) = c.get("/submissions?mode=oldest", headers=u.rita).json()
    assert pending["asset_identifiers"] == [identifier]
    view = c.get(f"/submissions/{pending['identifier']}", headers=u.rita).json()
    assert view["assets"][0]["pending_revision"] is True
    assert view["assets"][0]["asset"]["name"] == "Unreviewed"
    # a second edit supersedes the first submission
    c.put(f"/datasets/{identifier}", json={"name": "Second edit"}, headers=u.alice)
    (newest,) = c.get("/submissions?mode=newest", headers=u.rita).json()
    assert newest["identifier"] != pending["identifier"]
    superseded = c.post(
        "/reviews",
        json={"submission_identifier": pending["identifier"], "decision": "accepted"},
        headers=u.rita,
    )
    assert superseded.status_code == 409
    accepted = c.post(
        "/reviews",
        json={"submission_identifier": newest["identifier"], "decision": "accepted"},
        headers=u.rita,
    )
    assert accepted.status_code == 200, accepted.text
    assert c.get(f"/datasets/{identifier}").json()["name"] == "Second edit"


def test_user_resources_lists_my_assets_in_every_status(env: tuple[TestClient, Users]) -> None:
    c, u = env
    mine = draft(c, u.alice, "My draft")
    submitted = draft(c, u.alice, "My submission")
    model = draft(c, u.alice, "My model", "ml_models")
    submit(c, u.alice, submitted)
    theirs = draft(c, u.bob, "Bob's")
    granted = c.put(
        f"/assets/{theirs}/access",
        json={"grants": [{"user": "alice", "permission": "admin"}]},
        headers=u.bob,
    )
    assert granted.status_code == 200
    got = c.get("/user/resources", headers=u.alice)
    assert got.status_code == 200, got.text
    body = got.json()
    assert {"datasets", "ml_models", "persons"} <= set(body)
    assert [d["identifier"] for d in body["datasets"]] == [mine, submitted, theirs]
    assert [d["aiod_entry"]["status"] for d in body["datasets"]] == ["draft", "submitted", "draft"]
    assert [d["identifier"] for d in body["ml_models"]] == [model]
    page = c.get("/user/resources?asset_type=datasets&offset=1&limit=1", headers=u.alice).json()
    assert list(page) == ["datasets"] and [d["identifier"] for d in page["datasets"]] == [submitted]
    assert [
        d["identifier"] for d in c.get("/user/resources", headers=u.bob).json()["datasets"]
    ] == [theirs]
    assert c.get("/user/resources").status_code == 401
    assert c.get("/user/resources?asset_type=nope", headers=u.alice).status_code == 404
