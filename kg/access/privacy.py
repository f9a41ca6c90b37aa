"""Who sees private fields (kg/model/private.py: contact e-mail addresses and telephones).

Their owner and whoever may change the asset (write grantees, moderators of its type, its
connector), admins, and reviewers while it is submitted. Everyone else -- anonymous callers
first -- gets the public view on every channel.
"""

from __future__ import annotations

from kg.access.rules import AccessControl, AssetFacts, Principal, can_write
from kg.model.fields import AssetType
from kg.model.private import has_private


def sees_private(principal: Principal, facts: AssetFacts) -> bool:
    return can_write(principal, facts) or (principal.reviewer and facts.entry.status == "submitted")


def private_allowed(
    access: AccessControl, principal: Principal, asset: AssetType, identifier: str
) -> bool:
    """Whether this asset has private fields that this principal may see."""
    if not has_private(asset) or not principal.authenticated:
        return False
    facts = access.facts(identifier, asset.collection)
    return facts is not None and sees_private(principal, facts)
