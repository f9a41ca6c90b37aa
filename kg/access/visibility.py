"""A principal's view of the catalogue for the maintained counts (``kg.store.counts``): the
clauses of ``kg.access.rules.visible_where`` as sets (statuses, moderated types, connector
platforms) and its ownership and grants as SQL, so ``GET /counts`` reads a few dozen rows
instead of every asset. Must pick the same rows as ``visible_where``
(tests/kg/store/test_counts.py compares them after random writes)."""

from __future__ import annotations

from kg.access.rules import USER_PLATFORM, Principal, _in
from kg.store.counts import PUBLIC_STATUSES, Visibility


def visibility(principal: Principal) -> Visibility:
    """``visible_where`` for the maintained counts (``kg.store.counts``): the clauses on
    status, type and platform as sets, ownership and grants as a per-row SQL condition."""
    if principal.admin:
        return Visibility(everything=True)
    if not principal.authenticated:
        return Visibility()
    statuses = set(PUBLIC_STATUSES) | ({"submitted"} if principal.reviewer else set())
    rows: list[str] = []
    args: list[object] = []
    members: list[tuple[str, tuple[object, ...]]] = []
    if principal.subject:
        rows.append(
            "EXISTS (SELECT 1 FROM asset_owners o"
            " WHERE o.identifier = assets.identifier AND o.owner = ?)"
        )
        args.append(principal.subject)
        members.append(
            ("SELECT identifier FROM asset_owners WHERE owner = ?", (principal.subject,))
        )
    who = ["(g.kind = 'user' AND g.name = ?)"] if principal.subject else []
    who_args: list[object] = [principal.subject] if principal.subject else []
    if principal.groups:
        sql, more = _in("g.name", sorted(principal.groups))
        who.append(f"(g.kind = 'group' AND {sql})")
        who_args += more
    if who:
        granted = " OR ".join(who)
        rows.append(
            "EXISTS (SELECT 1 FROM asset_grants g"
            f" WHERE g.identifier = assets.identifier AND ({granted}))"
        )
        args += who_args
        members.append(
            (f"SELECT g.identifier FROM asset_grants g WHERE {granted}", tuple(who_args))
        )
    return Visibility(
        frozenset(statuses),
        frozenset(principal.moderated_types()),
        frozenset(principal.platforms - {USER_PLATFORM}),
        row_condition=(" OR ".join(rows), args) if rows else None,
        members=tuple(members),
    )
