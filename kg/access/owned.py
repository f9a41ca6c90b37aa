"""The assets a user administers ("my assets": ``GET /user/resources``).

AIoD counts as a user's resources the assets they have administrator rights on: here the
assets they own and those granted ``admin`` to them or to one of their groups, in every
status (drafts, submitted, rejected, restricted, published). The condition is SQL on the
catalogue index's ``assets`` table, given to ``CatalogIndex.page`` like the visibility rule.
"""

from __future__ import annotations

from kg.access.rules import Principal


def administered_where(principal: Principal) -> tuple[str, list[object]]:
    """An SQL condition on ``assets``: the rows this principal owns or administers."""
    if not principal.subject:
        return "1 = 0", []
    who = ["(kind = 'user' AND name = ?)"]
    args: list[object] = [principal.subject]
    groups = sorted(principal.groups)
    if groups:
        who.append(f"(kind = 'group' AND name IN ({','.join('?' * len(groups))}))")
        args += groups
    sql = (
        "(identifier IN (SELECT identifier FROM asset_owners WHERE owner = ?)"
        " OR identifier IN (SELECT identifier FROM asset_grants WHERE permission = 'admin'"
        " AND (" + " OR ".join(who) + ")))"
    )
    return sql, [principal.subject, *args]
