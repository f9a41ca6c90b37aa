"""Status changes of the review workflow, checked against ``kg.access.rules``'s rules.

``draft`` / ``rejected`` / ``restricted`` --submit--> ``submitted`` --review--> ``published``
or ``rejected``; ``submitted`` --retract--> ``draft``; the owner restricts an asset
(``restricted``: only grantees see it) or lifts the restriction (back to ``draft``).

A status change is an ordinary ``Catalog.replace`` of the asset with the new status, so the
graph moves between the public and private partitions and every listener (search, OAI-PMH
datestamps) sees it like any other write. It reads and writes under the catalog's write lock,
so an edit cannot land between the read and the write and be lost.

Submissions and reviews (kg.access.submissions): ``submit_many`` puts several assets into one
submission, ``decide`` accepts or rejects it as a whole, ``retract_submission`` takes it back.
The per-asset routes (``submit``, ``retract``, ``review``) are the same flow on a one-asset
submission.

Integrity of a review: an accept applies to the versions submitted (each asset's version tag
recorded at submission time), or to the versions the reviewer names (``precondition``: the
API compares the ETags the reviewer sends with the current versions'), 412 otherwise; the
per-asset ``review`` must name one (428). Checked under the same lock as the write. An edit of
a *published* asset by somebody who does not publish directly becomes a pending revision
(kg.access.revisions) and a one-asset submission: the published version stays public until a
reviewer accepts the revision.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from kg.access.revisions import Revision, Revisions
from kg.access.rules import (
    SYSTEM,
    AccessControl,
    AssetFacts,
    Principal,
    can_administer,
    can_write,
    publishes_directly,
)
from kg.access.submissions import (
    Decision,
    ListMode,
    Submission,
    SubmissionTable,
    SubmittedAsset,
    bound_check,
    check_assets,
    not_found,
    own_check,
    retract_check,
    version_tag,
    visible,
)
from kg.catalog import Catalog
from kg.errors import Conflict, Forbidden, NotFound, PreconditionRequired
from kg.model.fields import ASSET_TYPES, AssetType
from kg.store.index import Entry

#: sees the current entry and the pending revision (if any) under the write lock; raises
#: ``PreconditionFailed`` when the reviewer saw another version
ReviewPrecondition = Callable[[Entry, Revision | None], None]

SUBMITTABLE = ("draft", "rejected", "restricted")


class Workflow:
    def __init__(self, catalog: Catalog, access: AccessControl) -> None:
        self.catalog = catalog
        self.access = access
        self.revisions = Revisions(access.index)
        self.table = SubmissionTable(access)

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
            # the whole record, private fields included (kg/model/private.py)
            data = dict(data) if data is not None else self.catalog.full(asset, identifier)
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
            # the edit is a submission of its own; a newer edit supersedes the older one
            older = self.table.pending_for(identifier)
            if older is not None:
                self.table.decide(older.identifier, principal.subject, "retracted", "superseded")
            item = SubmittedAsset(identifier, asset.collection, revision.etag, True)
            self.table.add(principal.subject, "edit of a published asset", [item])
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

    # ------------------------------------------------------------------ submissions

    def _asset_facts(self, principal: Principal, identifier: str) -> tuple[AssetType, AssetFacts]:
        asset = self.catalog.type_of_identifier(identifier)
        if asset is None:
            raise NotFound(f"Asset '{identifier}' not found in the database.")
        return asset, self._facts(principal, asset, identifier)

    def _version(self, asset: AssetType, identifier: str) -> str:
        return version_tag(self.catalog.document(asset, identifier))

    def submit_many(
        self, principal: Principal, identifiers: list[str], comment: str | None = None
    ) -> Submission:
        """Submit assets for review, all or none (kg/access/submissions.py)."""
        check_assets(identifiers)
        with self.catalog.write_lock:
            found = []
            for identifier in identifiers:
                asset, facts = self._asset_facts(principal, identifier)
                if not can_administer(principal, facts):
                    raise Forbidden(
                        f"Only the owner of {asset.singular} '{identifier}' (or someone it "
                        "granted admin rights) may submit it."
                    )
                if facts.entry.status not in SUBMITTABLE:
                    raise Conflict(
                        f"{asset.label} '{identifier}' is {facts.entry.status}; only "
                        f"{', '.join(SUBMITTABLE)} assets can be submitted for review."
                    )
                found.append(asset)
            assets = []
            for asset, identifier in zip(found, identifiers, strict=True):
                self.set_status(asset, identifier, "submitted")
                self.access.record(identifier, "submit", principal.subject, comment)
                etag = self._version(asset, identifier)
                assets.append(SubmittedAsset(identifier, asset.collection, etag, False))
            number = self.table.add(principal.subject, comment or "", assets)
        return self._get(number)

    def _get(self, number: int) -> Submission:
        submission = self.table.get(number)
        if submission is None:
            raise not_found(number)
        return submission

    def submission(self, principal: Principal, number: int) -> Submission:
        """A submission its submitter or a reviewer may see (404 for anyone else)."""
        submission = self.table.get(number)
        if submission is None or not visible(principal, submission):
            raise not_found(number)
        return submission

    def submissions(
        self, principal: Principal, mode: ListMode, limit: int, offset: int
    ) -> list[Submission]:
        requestee = None if principal.reviewer else principal.subject
        return [self._get(n) for n in self.table.numbers(requestee, mode, limit, offset)]

    def retract_submission(
        self, principal: Principal, number: int, comment: str | None = None
    ) -> Submission:
        """The submitter (or an administrator of one of its assets) takes it back: drafts
        again, pending revisions dropped."""
        with self.catalog.write_lock:
            submission = self._get(number)
            facts = [self._asset_facts(SYSTEM, a.identifier)[1] for a in submission.assets]
            if not visible(principal, submission) and not any(
                can_administer(principal, f) for f in facts
            ):
                raise not_found(number)
            retract_check(principal, submission, facts)
            for item in submission.assets:
                asset = ASSET_TYPES[item.type]
                if item.revision:
                    self.revisions.drop([item.identifier])
                elif self.catalog.entry(asset, item.identifier).status == "submitted":
                    self.set_status(asset, item.identifier, "draft")
                self.access.record(item.identifier, "retract", principal.subject, comment)
            self.table.decide(number, principal.subject, "retracted", comment or "")
        return self._get(number)

    def decide(
        self,
        principal: Principal,
        number: int,
        decision: Decision,
        comment: str | None = None,
        precondition: ReviewPrecondition | None = None,
    ) -> Submission:
        """Accept (publish every asset) or reject a pending submission. An accept applies
        only to the versions submitted, or -- ``precondition`` given -- to the versions the
        reviewer names (412 otherwise). Everything under the catalog's write lock."""
        with self.catalog.write_lock:
            if not principal.reviewer:
                raise Forbidden("Reviewing needs the review_aiod_resources role.")
            submission = self.submission(principal, number)
            if not submission.pending:
                raise Conflict(f"Submission {number} is not under review any more.")
            checked = []
            for item in submission.assets:
                asset, facts = self._asset_facts(SYSTEM, item.identifier)
                revision = self.revisions.get(item.identifier) if item.revision else None
                own_check(principal, submission, facts, revision.author if revision else None)
                if item.revision and revision is None:
                    raise Conflict(f"The pending edit of '{item.identifier}' is gone.")
                if not item.revision and facts.entry.status != "submitted":
                    raise Conflict(
                        f"{asset.label} '{item.identifier}' is {facts.entry.status}, not "
                        "submitted for review."
                    )
                if decision == "accepted":
                    current = revision.etag if revision else self._version(asset, item.identifier)
                    bound_check(item, current, precondition is not None, number)
                    if precondition is not None:
                        precondition(facts.entry, revision)
                checked.append((asset, item, revision))
            action = "accept" if decision == "accepted" else "reject"
            for asset, item, revision in checked:
                if revision is not None:  # an edit of a published asset
                    self.revisions.drop([item.identifier])
                    if decision == "accepted":
                        self.set_status(asset, item.identifier, "published", revision.data())
                else:
                    status = "published" if decision == "accepted" else "rejected"
                    self.set_status(asset, item.identifier, status)
                self.access.record(item.identifier, action, principal.subject, comment)
            self.table.decide(number, principal.subject, decision, comment or "")
        return self._get(number)

    # ------------------------------------------------------------------ one asset at a time

    def _single(self, principal: Principal, asset: AssetType, identifier: str) -> Submission:
        """The pending submission of one asset, for the per-asset routes (a submitted asset
        from before submissions existed gets one now, bound to its current version)."""
        submission = self.table.pending_for(identifier)
        if submission is None:
            facts = self._facts(principal, asset, identifier)
            if facts.entry.status != "submitted" and self.revisions.get(identifier) is None:
                return self._missing(asset, identifier, facts)
            revision = self.revisions.get(identifier)
            item = SubmittedAsset(
                identifier,
                asset.collection,
                revision.etag if revision else self._version(asset, identifier),
                revision is not None,
            )
            requestee = revision.author if revision else self.access.submitter(identifier) or ""
            submission = self._get(self.table.add(requestee, "", [item]))
        if len(submission.assets) > 1:
            raise Conflict(
                f"{asset.label} '{identifier}' is one of the assets of submission "
                f"{submission.identifier}: review or retract that submission as a whole."
            )
        return submission

    @staticmethod
    def _missing(asset: AssetType, identifier: str, facts: AssetFacts) -> Submission:
        raise Conflict(
            f"{asset.label} '{identifier}' is {facts.entry.status}, not submitted for review."
        )

    def submit(
        self, principal: Principal, asset: AssetType, identifier: str, comment: str | None = None
    ) -> dict[str, Any]:
        self.submit_many(principal, [identifier], comment)
        return self.catalog.get(asset, identifier)

    def retract(
        self, principal: Principal, asset: AssetType, identifier: str, comment: str | None = None
    ) -> dict[str, Any]:
        with self.catalog.write_lock:
            self._facts(principal, asset, identifier)
            submission = self._single(principal, asset, identifier)
            self.retract_submission(principal, submission.identifier, comment)
            return self.catalog.get(asset, identifier)

    def review(
        self,
        principal: Principal,
        asset: AssetType,
        identifier: str,
        decision: Literal["accept", "reject"],
        comment: str | None = None,
        precondition: ReviewPrecondition | None = None,
    ) -> dict[str, Any]:
        """Accept or reject one asset's submission. This route's accept must name the
        version reviewed (``precondition``): 428 without, 412 on another version."""
        with self.catalog.write_lock:
            self._facts(principal, asset, identifier)
            if not principal.reviewer:
                raise Forbidden("Reviewing needs the review_aiod_resources role.")
            submission = self._single(principal, asset, identifier)
            facts = self._facts(SYSTEM, asset, identifier)
            revision = self.revisions.get(identifier)
            own_check(principal, submission, facts, revision.author if revision else None)
            if decision == "accept" and precondition is None:
                raise PreconditionRequired(
                    "Send the ETag of the version you reviewed (If-Match, or 'etag' in the "
                    "body): an accept applies to exactly that version."
                )
            verdict: Decision = "accepted" if decision == "accept" else "rejected"
            self.decide(principal, submission.identifier, verdict, comment, precondition)
            return self.catalog.get(asset, identifier)

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
                pending = self.table.pending_for(identifier)
                if pending is not None:
                    self.table.decide(pending.identifier, principal.subject, "retracted", "")
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
