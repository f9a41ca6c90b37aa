"""Status changes of the review workflow, checked against ``kg.access.rules``'s rules.

``draft`` / ``rejected`` / ``restricted`` --submit--> ``submitted`` --review--> ``published``
or ``rejected``; ``submitted`` --retract--> ``draft``; the owner restricts an asset
(``restricted``: only grantees see it) or lifts the restriction (back to ``draft``).

A status change is an ordinary ``Catalog.replace`` of the asset with the new status, so the
graph moves between the public and private partitions and every listener (search, OAI-PMH
datestamps) sees it like any other write.
"""

from __future__ import annotations

from typing import Any, Literal

from kg.access.rules import (
    AccessControl,
    AssetFacts,
    Forbidden,
    Principal,
    can_administer,
)
from kg.catalog import Catalog
from kg.errors import Conflict
from kg.model.fields import AssetType

SUBMITTABLE = ("draft", "rejected", "restricted")
Decision = Literal["accept", "reject"]


class Workflow:
    def __init__(self, catalog: Catalog, access: AccessControl) -> None:
        self.catalog = catalog
        self.access = access

    def _facts(self, principal: Principal, asset: AssetType, identifier: str) -> AssetFacts:
        return self.access.readable(
            principal, asset, identifier, self.catalog.not_found(asset, identifier)
        )

    def set_status(self, asset: AssetType, identifier: str, status: str) -> dict[str, Any]:
        data = self.catalog.get(asset, identifier)
        entry = data.get("aiod_entry")
        data["aiod_entry"] = {**(entry if isinstance(entry, dict) else {}), "status": status}
        self.catalog.replace(asset, identifier, data)
        return self.catalog.get(asset, identifier)

    def _administered(self, principal: Principal, asset: AssetType, identifier: str) -> AssetFacts:
        facts = self._facts(principal, asset, identifier)
        if not can_administer(principal, facts):
            raise Forbidden(
                f"Only the owner of {asset.singular} '{identifier}' (or someone it "
                "granted admin rights) may do this."
            )
        return facts

    def submit(
        self, principal: Principal, asset: AssetType, identifier: str, comment: str | None = None
    ) -> dict[str, Any]:
        facts = self._administered(principal, asset, identifier)
        if facts.entry.status not in SUBMITTABLE:
            raise Conflict(
                f"{asset.label} '{identifier}' is {facts.entry.status}; only "
                f"{', '.join(SUBMITTABLE)} assets can be submitted for review."
            )
        data = self.set_status(asset, identifier, "submitted")
        self.access.record(identifier, "submit", principal.subject, comment)
        return data

    def retract(
        self, principal: Principal, asset: AssetType, identifier: str, comment: str | None = None
    ) -> dict[str, Any]:
        facts = self._administered(principal, asset, identifier)
        if facts.entry.status != "submitted":
            raise Conflict(f"{asset.label} '{identifier}' is not submitted for review.")
        data = self.set_status(asset, identifier, "draft")
        self.access.record(identifier, "retract", principal.subject, comment)
        return data

    def review(
        self,
        principal: Principal,
        asset: AssetType,
        identifier: str,
        decision: Decision,
        comment: str | None = None,
    ) -> dict[str, Any]:
        facts = self._facts(principal, asset, identifier)
        if not principal.reviewer:
            raise Forbidden("Reviewing needs the review_aiod_resources role.")
        if facts.entry.status != "submitted":
            raise Conflict(
                f"{asset.label} '{identifier}' is {facts.entry.status}, not submitted for review."
            )
        submitter = self.access.submitter(identifier)
        if principal.subject and principal.subject in (facts.owner, submitter):
            raise Forbidden("Nobody reviews their own submission.")
        status = "published" if decision == "accept" else "rejected"
        data = self.set_status(asset, identifier, status)
        self.access.record(
            identifier, "accept" if decision == "accept" else "reject", principal.subject, comment
        )
        return data

    def restrict(
        self, principal: Principal, asset: AssetType, identifier: str, restricted: bool
    ) -> dict[str, Any] | None:
        """Restrict the asset to its owner and grantees, or lift that (back to draft).
        Returns the asset if its status changed."""
        facts = self._administered(principal, asset, identifier)
        status = facts.entry.status
        if restricted and status != "restricted":
            if status == "submitted":
                raise Conflict(
                    f"{asset.label} '{identifier}' is under review; retract the submission first."
                )
            data = self.set_status(asset, identifier, "restricted")
        elif not restricted and status == "restricted":
            data = self.set_status(asset, identifier, "draft")
        else:
            return None
        self.access.record(
            identifier, "restrict" if restricted else "unrestrict", principal.subject, None
        )
        return data

    def history(
        self, principal: Principal, asset: AssetType, identifier: str
    ) -> list[dict[str, Any]]:
        facts = self._facts(principal, asset, identifier)
        if not (can_administer(principal, facts) or principal.reviewer):
            raise Forbidden("Only the asset's administrators and reviewers see its history.")
        return self.access.history(identifier)
