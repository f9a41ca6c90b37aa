"""The maintained counts (kg/store/counts.py) against counting the rows, on SQLite and
PostgreSQL: after a random sequence of writes of every kind (create, upsert, status change,
platform and type change, delete, recover, clear and rebuild, a second writer, an index
opened on a database without the table), for every kind of reader, and the size of every
OAI-PMH list against the records walked."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

from kg.access.rules import AccessControl, Principal, visible_where
from kg.access.visibility import visibility
from kg.store import counts
from kg.store.index import CatalogIndex, Entry
from kg.store.public_index import PublicIndex, Row

STATUSES = ("published", "published", "draft", "submitted", "rejected", "restricted", None)
PLATFORMS = ("aiod", "openml", "zenodo", None)
TYPES = ("datasets", "ml_models", "publications")
OWNERS = ("alice", "bob", None)

PRINCIPALS = [
    Principal(),
    Principal("user", "alice"),
    Principal("user", "carol"),
    Principal("user", "dave", groups=frozenset({"hospital"})),
    Principal("user", "rita", roles=frozenset({"review_aiod_resources"})),
    Principal("api_key", "aiod-kg:apikey:1", roles=frozenset({"platform_openml"})),
    Principal("user", "ed", roles=frozenset({"update_datasets"})),
    Principal("user", "bob", roles=frozenset({"platform_zenodo", "delete_ml_models"})),
    Principal("admin", "aiod-kg:admin", admin=True),
]


def _entry(rng: random.Random, identifier: str, day: int) -> Entry:
    type_ = rng.choice(TYPES)
    return Entry(
        identifier,
        type_,
        rng.choice(PLATFORMS),
        f"{identifier}-{rng.randrange(10**6)}",
        rng.choice(STATUSES),
        "2024-01-01T00:00:00",
        f"2024-{1 + day // 28 % 12:02d}-{1 + day % 28:02d}T00:00:00",
    )


def _recounted(index: CatalogIndex) -> dict[counts.Key, int]:
    """The counts from the rows, in Python (not the module's SQL)."""
    db = index.connection()
    ever = {str(i) for (i,) in db.execute("SELECT identifier FROM public_ever")}
    out: dict[counts.Key, int] = {}
    for identifier, t, p, s, d in db.execute(
        "SELECT identifier, type, platform, status, deleted FROM assets"
    ):
        key = (str(t), p or "", s or "", int(d), int(identifier in ever))
        out[key] = out.get(key, 0) + 1
    return out


def _scanned(index: CatalogIndex, principal: Principal, type_: str | None) -> dict:
    return counts.scan(index.connection(), type_, visible_where(principal))


def _listed(public: PublicIndex, types: list[str]) -> list[Row]:
    """Every record of an OAI-PMH list (ListSets and Identify are read from these)."""
    found: list[Row] = []
    while True:
        after = (found[-1].date_modified, found[-1].seq) if found else None
        rows = public.changes(types, 50, after=after)
        found += rows
        if len(rows) < 50:
            return found


def _walk(
    public: PublicIndex,
    types: list[str],
    platform: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> int:
    """Records of an OAI-PMH list, walked page by page as ``OaiProvider`` does."""
    walked, after = 0, None
    while True:
        rows = public.changes(types, 7, platform, since, until, after)
        walked += len(rows)
        if len(rows) < 7:
            return walked
        after = (rows[-1].date_modified, rows[-1].seq)


def _both_ways(index: CatalogIndex, principal: Principal, type_: str | None) -> list[dict]:
    """A reader's counts with its own rows walked from its identifiers, and from the rows."""
    db, seen = index.connection(), visibility(principal)
    table = counts.rows(db)
    if seen.everything or seen.row_condition is None:
        return []
    left = [k for k in table if k[3] == 0 and type_ in (None, k[0]) and not seen.by_key(k)]
    walked = [counts.from_members(db, seen, type_)]
    if left:
        walked.append(counts.from_keys(db, seen, left))
    return [counts.add(counts.live(table, seen.by_key, type_), w) for w in walked]


def _check(index: CatalogIndex, access: AccessControl, public: PublicIndex) -> None:
    assert counts.rows(index.connection()) == _recounted(index)
    for principal in PRINCIPALS:
        for type_ in (None, "datasets", "ml_models"):
            expected = _scanned(index, principal, type_)
            assert access.count_by_platform(principal, type_) == expected, (principal, type_)
            for found in _both_ways(index, principal, type_):
                assert found == expected, (principal, type_)
        assert access.count(principal, "datasets") == sum(
            _scanned(index, principal, "datasets").get("datasets", {}).values()
        )
    assert index.count_by_platform() == counts.scan(index.connection(), None, None)
    for types in (["datasets"], list(TYPES)):
        for platform in (None, "openml"):
            live = public.count(types, platform=platform)
            assert live == sum(1 for r in public.iter_live(types) if platform in (None, r.platform))
            assert public.count_changes(types, platform) == _walk(public, types, platform)
            window = ("2024-03-01T00:00:00", "2024-07-15T00:00:00")
            assert public.count_changes(types, platform, *window) == _walk(
                public, types, platform, *window
            )
        listed = _listed(public, types)
        assert public.change_platforms(types) == sorted({r.platform for r in listed if r.platform})
        assert public.earliest_change(types) == min((r.date_modified for r in listed), default=None)
        live_platforms = {r.platform for r in public.iter_live(types) if r.platform}
        assert public.platforms(types) == sorted(live_platforms)
    rows = public.changes(list(TYPES), 5)
    if rows:  # a token without the size (older ones): counted from its key
        after = (rows[-1].date_modified, rows[-1].seq)
        assert public.count_changes(list(TYPES), after=after) == _walk(public, list(TYPES)) - len(
            rows
        )


def test_counts_follow_every_kind_of_write(open_index: Callable[[], CatalogIndex]) -> None:
    rng = random.Random(14)
    index = open_index()
    access, public = AccessControl(index), PublicIndex(index)
    other = open_index()  # a second writer (another process or replica)
    ids = [f"asset_{n:04d}" for n in range(60)]
    for step in range(40):
        writer = other if step % 5 == 4 else index
        day = step + 1
        kind = rng.choice(("upsert", "upsert", "upsert", "delete", "mixed", "status"))
        if kind == "status":  # review / withdraw / restrict: the same row, another status
            entries = []
            for identifier in rng.sample(ids, 8):
                found = writer.get(identifier)
                if found is not None:
                    entries.append(replace(found, status=rng.choice(STATUSES)))
            writer.commit_entries(entries)
        elif kind == "delete":
            chosen = rng.sample(ids, 6)
            writer.commit_entries(
                [], [(i, "datasets") for i in chosen], f"2025-01-{day % 28 + 1:02d}"
            )
        else:  # creates, upserts (recovering deleted ones), a repeated identifier in one batch
            chosen = rng.sample(ids, 10) + [ids[step % len(ids)]] * 2
            entries = [_entry(rng, i, day) for i in chosen]
            entries = list({e.identifier: e for e in entries}.values())  # unique per platform id
            deletes = [(i, "datasets") for i in rng.sample(ids, 3)] if kind == "mixed" else []
            writer.commit_entries(entries, deletes, "2025-02-01")
        for identifier in rng.sample(ids, 3):
            access.set_owner(identifier, rng.choice(("alice", "bob")))
        access.set_grants(rng.choice(ids), [("user", "carol", "read")], "alice")
        access.set_grants(rng.choice(ids), [("group", "hospital", "write")], "alice")
        if step == 25:  # rebuild: cleared, then written again
            index.clear()
            assert counts.rows(index.connection()) == {}
            index.commit_entries([_entry(rng, i, day) for i in ids[:30]])
        _check(index, access, public)
    # an index opened on a database written before the table existed (a restored backup)
    with index.transaction() as db:
        db.execute("DROP TABLE asset_counts")
    reopened = open_index()
    assert counts.rows(reopened.connection()) == _recounted(reopened)
    _check(reopened, AccessControl(reopened), PublicIndex(reopened))
    before = counts.rows(index.connection())
    index.recount()
    assert counts.rows(index.connection()) == before


def test_counts_per_reader(open_index: Callable[[], CatalogIndex]) -> None:
    """The figures each kind of reader gets, spelled out."""
    index = open_index()
    access = AccessControl(index)

    def entry(
        identifier: str, status: str, platform: str = "aiod", type_: str = "datasets"
    ) -> Entry:
        return Entry(identifier, type_, platform, identifier, status, "2024-01-01", "2024-01-02")

    index.commit_entries(
        [
            entry("pub_1", "published"),
            entry("pub_2", "published", "openml"),
            entry("draft_a", "draft"),
            entry("draft_b", "draft"),
            entry("sub_a", "submitted"),
            entry("ml_draft", "draft", "openml", "ml_models"),
            entry("gone", "published"),
        ]
    )
    index.commit_entries([], [("gone", "datasets")], "2024-02-01")
    for identifier in ("draft_a", "sub_a"):
        access.set_owner(identifier, "alice")
    access.set_owner("draft_b", "bob")
    access.set_grants("draft_b", [("user", "carol", "read")], "bob")
    anonymous = {"datasets": {"aiod": 1, "openml": 1}}
    assert access.count_by_platform(Principal()) == anonymous
    assert access.count_by_platform(Principal("user", "alice")) == {
        "datasets": {"aiod": 3, "openml": 1}
    }
    assert access.count(Principal("user", "carol"), "datasets") == 3
    reviewer = Principal("user", "rita", roles=frozenset({"review_aiod_resources"}))
    assert access.count(reviewer, "datasets") == 3
    connector = Principal("api_key", "aiod-kg:apikey:1", roles=frozenset({"platform_openml"}))
    assert access.count_by_platform(connector) == {
        "datasets": {"aiod": 1, "openml": 1},
        "ml_models": {"openml": 1},
    }
    admin = Principal("admin", "aiod-kg:admin", admin=True)
    assert access.count_by_platform(admin) == {
        "datasets": {"aiod": 4, "openml": 1},
        "ml_models": {"openml": 1},
    }
    assert index.count("datasets") == 5 and index.count("ml_models") == 1
    public = PublicIndex(index)  # opened late: its backfill marks the public rows, recounted
    assert counts.rows(index.connection()) == _recounted(index)
    assert public.count_changes(["datasets"]) == 3  # two public, one deleted record
    index.commit_entries([entry("pub_1", "restricted")])  # withdrawn: still a (deleted) record
    assert public.count_changes(["datasets"]) == 3 and public.count(["datasets"]) == 1
    assert access.count(Principal(), "datasets") == 1
