"""The access tables and the harvesters' view, row by row, on SQLite and PostgreSQL (the
``index`` fixture): API keys, owners and grants (an upsert replaces a grant), submissions
(numbers from RETURNING, assets in the order given), bookmarks (``"user"``, a reserved word
of PostgreSQL), pending revisions, the ``public_ever`` trigger that turns a withdrawn asset
into a deleted record, and the migrations' record."""

from __future__ import annotations

from kg.access.bookmarks import Bookmarks
from kg.access.owned import administered_where
from kg.access.revisions import Revisions
from kg.access.rules import AccessControl, Principal, visible_where
from kg.access.submissions import SubmissionTable, SubmittedAsset
from kg.migrations import applied
from kg.store.index import CatalogIndex, Entry
from kg.store.public_index import PublicIndex


def _entry(identifier: str, status: str) -> Entry:
    return Entry(identifier, "datasets", "aiod", None, status, "2024-01-01", "2024-01-02")


def test_keys_owners_grants_and_visibility(index: CatalogIndex) -> None:
    access = AccessControl(index)
    AccessControl(index)  # the tables are made once, opening again changes nothing
    key, secret = access.create_key("bot", ["platform_x", "edit_aiod_resources"], "test")
    principal = access.key_principal(secret)
    assert principal is not None and principal.roles == {"platform_x", "edit_aiod_resources"}
    assert access.revoke_key(key.id).revoked_at is not None
    assert access.key_principal(secret) is None
    index.commit_entries([_entry("data_a", "draft"), _entry("data_b", "published")])
    access.set_owner("data_a", "alice")
    access.set_owners(["data_b", "data_c"], "bob")  # a bulk create's batch, one transaction
    access.set_owners(["data_c"], "dora")  # a new owner replaces the old one
    access.set_owners([], "nobody")
    assert [access.owner(i) for i in ("data_a", "data_b", "data_c")] == ["alice", "bob", "dora"]
    access.set_grants("data_a", [("user", "carol", "read")], "alice")
    access.set_grants("data_a", [("user", "carol", "admin")], "alice")  # replaces
    carol = Principal("user", "carol")
    assert access.facts("data_a") is not None
    assert access.facts("data_a").grants == (("user", "carol", "admin"),)  # type: ignore[union-attr]
    assert [e.identifier for e in access.page(carol, "datasets", 0, 10)] == ["data_a", "data_b"]
    assert access.count(Principal(), "datasets") == 1
    assert index.count("datasets", visible_where(Principal("admin", "x", admin=True))) == 2
    mine = index.page("datasets", 0, 10, condition=administered_where(carol))
    assert [e.identifier for e in mine] == ["data_a"]
    assert index.count("datasets", administered_where(Principal())) == 0
    access.record("data_a", "submit", "alice", None)
    access.record("data_a", "reject", "rita", "no")
    assert [h["action"] for h in access.history("data_a")] == ["submit", "reject"]
    assert access.submitter("data_a") == "alice"


def test_submissions_bookmarks_and_revisions(index: CatalogIndex) -> None:
    table = SubmissionTable(AccessControl(index))
    assets = [SubmittedAsset(f"data_{c}", "datasets", f'"{c}"', c == "m") for c in "zam"]
    first = table.add("alice", "please", assets)
    second = table.add("bob", "", assets[:1])
    assert second == first + 1
    found = table.get(first)
    assert found is not None and [a.identifier for a in found.assets] == [
        "data_z",
        "data_a",
        "data_m",
    ]
    assert [a.revision for a in found.assets] == [False, False, True]
    assert table.pending_for("data_z") is not None
    table.decide(second, "rita", "accepted", "fine")
    assert table.numbers(None, "pending", 10, 0) == [first]
    assert table.numbers(None, "completed", 10, 0) == [second]
    assert table.pending_for("data_z").identifier == first  # type: ignore[union-attr]

    bookmarks = Bookmarks(index)
    kept = bookmarks.add("alice", "data_a")
    assert bookmarks.add("alice", "data_a") == kept  # twice: the first date stays
    bookmarks.add("bob", "data_b")
    assert [b.identifier for b in bookmarks.of("alice")] == ["data_a"]
    bookmarks.remove("alice", "data_a")
    assert bookmarks.of("alice") == []

    revisions = Revisions(index)
    revisions.put("data_a", "datasets", {"name": "one"}, "alice")
    newer = revisions.put("data_a", "datasets", {"name": "two"}, "bob")
    assert revisions.get("data_a") == newer and newer.data() == {"name": "two"}
    assert revisions.identifiers(10, 0) == ["data_a"]
    revisions.drop(["data_a"])
    assert revisions.get("data_a") is None


def test_withdrawn_assets_are_deleted_records(index: CatalogIndex) -> None:
    index.commit_entries([_entry("data_old", "published")])  # before the trigger existed
    public = PublicIndex(index)
    PublicIndex(index)
    index.commit_entries([_entry("data_pub", "published"), _entry("data_draft", "draft")])
    index.commit_entries([_entry("data_pub", "restricted")])  # withdrawn
    assert public.get("data_draft") is None  # never public: no trace
    assert public.get("data_old") is not None and not public.get("data_old").deleted  # type: ignore[union-attr]
    withdrawn = public.get("data_pub")
    assert withdrawn is not None and withdrawn.deleted
    changes = public.changes(["datasets"], 10)
    assert {(r.identifier, r.deleted) for r in changes} == {
        ("data_old", False),
        ("data_pub", True),
    }
    assert public.count(["datasets"]) == 1
    assert [r.identifier for r in public.page(["datasets"], 0, 10)] == ["data_old"]
    assert applied(index) == []
