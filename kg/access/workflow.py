"""Status changes of the review workflow, checked against ``kg.access.rules``'s rules.

``draft`` / ``rejected`` / ``restricted`` --submit--> ``submitted`` --review--> ``published``
or ``rejected``; ``submitted`` --retract--> ``draft``; the owner restricts an asset
(``restricted``: only grantees see it) or lifts the restriction (back to ``draft``).

A status change is an ordinary ``Catalog.replace`` of the asset with the new status, so the
graph moves between the public and private partitions and every listener (search, OAI-PMH
datestamps) sees it like any other write. It reads and writes under the catalog's write lock,
so an edit cannot land between the read and the write and be lost.

Integrity of a review: an accept names the version the reviewer saw (``precondition``: the
API compares the ETag the reviewer sends with the current version's, 412 otherwise, 428 when
none is sent), checked under the same lock as the write. An edit of a *published* asset by
somebody who does not publish directly becomes a pending revision (kg.access.revisions): the
published version stays public until a reviewer accepts the revision.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from kg.access.revisions import Revision, Revisions
from kg.access.rules import (
    AccessControl,
    AssetFacts,
    Principal,
    can_administer,
    can_write,
    publishes_directly,
)
from kg.catalog import Catalog
from kg.errors import Conflict, Forbidden, PreconditionRequired
from kg.model.fields import AssetType
from kg.store.index import Entry

#: sees the current entry and the pending revision (if any) under the write lock; raises
#: ``PreconditionFailed`` when the reviewer saw another version
ReviewPrecondition = Callable[[Entry, Revision | None], None]

SUBMITTABLE = ("draft", "rejected", "restricted")
Decision = Literal["accept", "reject"]


class Workflow:
    def __init__(self, catalog: Catalog, access: AccessControl) -> None:
        self.catalog = catalog
        self.access = access
        self.revisions = Revisions(access.index)

    def _facts(self, principal: Principal, asset: AssetType, identifier: str) -> AssetFacts:
        return self.access.readable(
            principal, asset, identifier, self.catalog.not_found(asset, identifier)
        )

    def set_status(
        self, asset: AssetType, identifier: str, status: str, data: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Write the asset (its current version, or ``data``) with ``status``, reading and
        writing under the catalog's write lock."""
        with self.catalog.write_lock:
            data = dict(data) if data is not None else self.catalog.get(asset, identifier)
            entry = data.get("aiod_entry")
            data["aiod_entry"] = {**(entry if isinstance(entry, dict) else {}), "status": status}
            self.catalog.replace(asset, identifier, data)
            return self.catalog.get(asset, identifier)

    @staticmethod
    def publishes_edits(principal: Principal, facts: AssetFacts) -> bool:
        """Whether this principal's edits of the asset go live without review: admins, the
        asset's connector, moderators of its type (``update_<type>``)."""
        return (
            principal.admin
            or publishes_directly(principal, facts.entry.platform)
            or principal.has_type_role("update", facts.entry.type)
        )

    def propose(
        self,
        principal: Principal,
        asset: AssetType,
        identifier: str,
        data: dict[str, Any],
        precondition: Callable[[Entry], None] | None = None,
    ) -> Revision:
        """Keep an edit of a published asset as a pending revision (submitted for review);
        the published version stays as it is. Validated now (422 / 409 like a PUT)."""
        facts = self._facts(principal, asset, identifier)
        if not can_write(principal, facts):
            raise Forbidden(f"You may read {asset.singular} '{identifier}' but not change it.")
        with self.catalog.write_lock:
            entry = self.catalog.entry(asset, identifier)
            if precondition is not None:
                precondition(entry)
            self.catalog.check_replace(asset, identifier, data)
            revision = self.revisions.put(identifier, asset.collection, data, principal.subject)
            self.access.record(identifier, "submit", principal.subject, "edit (pending revision)")
        return revision

    def pending(self, principal: Principal, asset: AssetType, identifier: str) -> Revision:
        """The pending revision, for its asset's writers and reviewers (404 otherwise)."""
        facts = self._facts(principal, asset, identifier)
        revision = self.revisions.get(identifier)
        if revision is None or not (principal.reviewer or can_write(principal, facts)):
            raise self.catalog.not_found(asset, identifier)
        return revision

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
        with self.catalog.write_lock:
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
        facts = self._facts(principal, asset, identifier)
        with self.catalog.write_lock:
            revision = self.revisions.get(identifier)
            if revision is not None and (
                revision.author == principal.subject or can_administer(principal, facts)
            ):
                self.revisions.drop([identifier])
                self.access.record(identifier, "retract", principal.subject, comment)
                return self.catalog.get(asset, identifier)
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
        precondition: ReviewPrecondition | None = None,
    ) -> dict[str, Any]:
        """Accept or reject the submitted asset, or its pending revision. An accept needs
        ``precondition`` (the version the reviewer saw): 428 without, 412 on another version.
        Everything from the checks to the write happens under the catalog's write lock."""
        with self.catalog.write_lock:
            facts = self._facts(principal, asset, identifier)
            if not principal.reviewer:
                raise Forbidden("Reviewing needs the review_aiod_resources role.")
            revision = self.revisions.get(identifier)
            if revision is None and facts.entry.status != "submitted":
                raise Conflict(
                    f"{asset.label} '{identifier}' is {facts.entry.status}, not submitted for "
                    "review."
                )
            submitter = revision.author if revision else self.access.submitter(identifier)
            if principal.subject and principal.subject in (facts.owner, submitter):
                raise Forbidden("Nobody reviews their own submission.")
            if decision == "accept":
                if precondition is None:
                    raise PreconditionRequired(
                        "Send the ETag of the version you reviewed (If-Match, or 'etag' in the "
                        "body): an accept applies to exactly that version."
                    )
                precondition(facts.entry, revision)
            action = "accept" if decision == "accept" else "reject"
            if revision is not None:  # an edit of a published asset
                self.revisions.drop([identifier])
                data = (
                    self.set_status(asset, identifier, "published", revision.data())
                    if decision == "accept"
                    else self.catalog.get(asset, identifier)
                )
            else:
                status = "published" if decision == "accept" else "rejected"
                data = self.set_status(asset, identifier, status)
            self.access.record(identifier, action, principal.subject, comment)
            return data

    def restrict(
        self, principal: Principal, asset: AssetType, identifier: str, restricted: bool
    ) -> dict[str, Any] | None:
        """Restrict the asset to its owner and grantees, or lift that (back to draft).
        Returns the asset if its status changed."""
        with self.catalog.write_lock:
            facts = self._administered(principal, asset, identifier)
            status = facts.entry.status
            if restricted and status != "restricted":
                if status == "submitted":
                    raise Conflict(
                        f"{asset.label} '{identifier}' is under review; retract the "
                        "submission first."
                    )
                self.revisions.drop([identifier])  # a pending edit would re-publish it
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
