"""Contact details (e-mail, telephone) reach their owner, moderators, reviewers of a submitted
contact and admins, and survive the review workflow; everyone else gets the public view
(tests/kg/access/test_isolation.py sweeps every channel for anonymous callers)."""

from __future__ import annotations

from pathlib import Path

from tests.support.auth import Issuer, auth_client, auth_settings
from tests.support.data import AUTH

EMAIL = "owner.only@example.org"


def test_contact_details_follow_the_rights(tmp_path: Path) -> None:
    issuer = Issuer()
    try:
        alice = issuer.headers("alice", [])
        bob = issuer.headers("bob", [])
        rita = issuer.headers("rita", ["review_aiod_resources"])
        moderator = issuer.headers("mo", ["update_contacts"])
        with auth_client(auth_settings(tmp_path, issuer, search_enabled=False)) as (c, _):
            made = c.post("/contacts", json={"name": "Alice", "email": [EMAIL]}, headers=alice)
            assert made.status_code == 200, made.text
            con = made.json()["identifier"]
            assert c.get(f"/contacts/{con}", headers=alice).json()["email"] == [EMAIL]
            # the owner's edit round-trips (the ETag is the public document's)
            got = c.get(f"/contacts/{con}", headers=alice)
            put = c.put(
                f"/contacts/{con}",
                json={"name": "Alice L.", "email": [EMAIL], "telephone": ["+32 1"]},
                headers={**alice, "If-Match": got.headers["etag"]},
            )
            assert put.status_code == 200, put.text
            submitted = c.post("/submissions", json={"asset_identifiers": [con]}, headers=alice)
            number = submitted.json()["submission_identifier"]
            # the reviewer sees what they review
            assert c.get(f"/contacts/{con}", headers=rita).json()["email"] == [EMAIL]
            view = c.get(f"/submissions/{number}", headers=rita).json()
            assert view["assets"][0]["asset"]["telephone"] == ["+32 1"]
            accepted = c.post(
                "/reviews",
                json={"submission_identifier": number, "decision": "accepted"},
                headers=rita,
            )
            assert accepted.status_code == 200, accepted.text
            # published: the details survived the status change, for those with the right
            for who in (alice, moderator, AUTH):
                full = c.get(f"/contacts/{con}", headers=who).json()
                assert full["email"] == [EMAIL] and full["telephone"] == ["+32 1"]
            mine = c.get("/user/resources?asset_type=contacts", headers=alice).json()
            assert mine["contacts"][0]["email"] == [EMAIL]
            for who in ({}, bob, rita):  # the reviewer's right ended with the review
                public = c.get(f"/contacts/{con}", headers=who)
                assert public.status_code == 200
                assert public.json()["name"] == "Alice L."
                assert "email" not in public.json() and "telephone" not in public.json()
                assert EMAIL not in c.get("/contacts", headers=who).text
    finally:
        issuer.close()
