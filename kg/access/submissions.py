"""Submissions and reviews in AIoD's shape: several assets per submission, one decision each.

A *submission* (``POST /submissions {asset_identifiers, comment}``) asks reviewers to publish
one or more assets: drafts, rejected or restricted assets (their status becomes
``submitted``) or pending revisions of published assets (kg.access.revisions: an edit by
somebody who does not publish directly opens a one-asset submission by itself). A *review*
(``POST /reviews {submission_identifier, decision, comment}``) decides the whole submission:
``accepted`` publishes every asset, ``rejected`` rejects every one (a rejected revision is
dropped, the published version stays); the submitter may instead retract it (``retracted``:
drafts again, revisions dropped). One decision per submission; a decided submission is
*completed*.

The version binding: the submission records, for each asset, the version tag it had when it
was submitted (the content ETag a GET of its AIoD JSON sends, or the pending revision's
ETag). An accept applies only if every asset is still at that version -- else 412, nothing
published -- unless the reviewer names the versions they read (``If-Match`` / ``etag``: then
each asset's *current* version must be among them). So whatever a reviewer accepts is a
version somebody showed them: the one submitted, or the one they name.

Rules kept from the per-asset workflow: only an asset's administrators submit it; reviewing
needs ``review_aiod_resources``; nobody reviews a submission holding an asset they own,
submitted or authored; everything from the checks to the writes runs under the catalog's
write lock. The tables live beside the access tables in the catalogue index's database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from kg.access.revisions import Revisions
from kg.access.rules import AccessControl, AssetFacts, Principal, can_administer
from kg.db.database import Connection
from kg.errors import CatalogError, Conflict, Forbidden, NotFound, PreconditionFailed

SCHEMA = """
CREATE TABLE IF NOT EXISTS submissions (
    identifier INTEGER PRIMARY KEY AUTOINCREMENT,
    requestee TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    request_date TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS submissions_requestee ON submissions (requestee);
CREATE TABLE IF NOT EXISTS submission_assets (
    submission INTEGER NOT NULL,
    asset TEXT NOT NULL,
    type TEXT NOT NULL,
    etag TEXT NOT NULL,
    revision INTEGER NOT NULL DEFAULT 0,
    position INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (submission, asset)
);
CREATE INDEX IF NOT EXISTS submission_assets_asset ON submission_assets (asset);
CREATE TABLE IF NOT EXISTS submission_reviews (
    identifier INTEGER PRIMARY KEY AUTOINCREMENT,
    submission INTEGER NOT NULL UNIQUE,
    reviewer TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('accepted', 'rejected', 'retracted')),
    comment TEXT NOT NULL DEFAULT '',
    decision_date TEXT NOT NULL
)
"""

Decision = Literal["accepted", "rejected", "retracted"]
ListMode = Literal["oldest", "newest", "all", "pending", "completed"]
MODES: tuple[str, ...] = ("oldest", "newest", "all", "pending", "completed")
MAX_ASSETS = 100  # per submission


def version_tag(document: bytes) -> str:
    """The version tag of an asset: the content ETag of its AIoD JSON (what a GET sends)."""
    return '"' + hashlib.blake2b(document, digest_size=12).hexdigest() + '"'


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass(frozen=True)
class SubmittedAsset:
    identifier: str
    type: str
    etag: str  # the version tag at submission time
    revision: bool  # a pending revision of a published asset


@dataclass(frozen=True)
class Submission:
    identifier: int
    requestee: str
    comment: str
    request_date: str
    assets: tuple[SubmittedAsset, ...]
    review: dict[str, Any] | None

    @property
    def pending(self) -> bool:
        return self.review is None

    def as_dict(self) -> dict[str, Any]:
        """The submission as the API shows it (AIoD's field names)."""
        return {
            "identifier": self.identifier,
            "comment": self.comment,
            "request_date": self.request_date,
            "requestee_identifier": self.requestee,
            "asset_identifiers": [a.identifier for a in self.assets],
            "status": "pending" if self.review is None else self.review["decision"],
            "reviews": [] if self.review is None else [self.review],
        }


class SubmissionTable:
    """The submissions tables (see the module docstring); no rules here, only rows."""

    def __init__(self, access: AccessControl) -> None:
        self.index = access.index
        self.index.ensure("submissions", self._make)

    def _make(self) -> None:
        database = self.index.database
        database.create(SCHEMA)
        if "position" not in database.columns("submission_assets"):
            # a SQLite file of an earlier version: the order was the rowid's
            with self.index.transaction() as db:
                if "position" not in database.columns("submission_assets"):
                    db.execute(
                        "ALTER TABLE submission_assets"
                        " ADD COLUMN position INTEGER NOT NULL DEFAULT 0"
                    )
                    db.execute("UPDATE submission_assets SET position = rowid")

    def _db(self) -> Connection:
        return self.index.connection()

    def add(self, requestee: str, comment: str, assets: list[SubmittedAsset]) -> int:
        with self.index.transaction() as db:
            (number,) = db.execute(
                "INSERT INTO submissions (requestee, comment, request_date) VALUES (?,?,?)"
                " RETURNING identifier",
                (requestee, comment, _now()),
            ).fetchone()
            db.executemany(
                "INSERT INTO submission_assets (submission, asset, type, etag, revision,"
                " position) VALUES (?,?,?,?,?,?)",
                [
                    (number, a.identifier, a.type, a.etag, int(a.revision), k)
                    for k, a in enumerate(assets)
                ],
            )
        return int(number)

    def decide(self, number: int, reviewer: str, decision: Decision, comment: str) -> None:
        with self.index.transaction() as db:
            db.execute(
                "INSERT INTO submission_reviews (submission, reviewer, decision, comment,"
                " decision_date) VALUES (?,?,?,?,?)",
                (number, reviewer, decision, comment, _now()),
            )

    def get(self, number: int) -> Submission | None:
        db = self._db()
        row = db.execute(
            "SELECT identifier, requestee, comment, request_date FROM submissions"
            " WHERE identifier = ?",
            (number,),
        ).fetchone()
        if row is None:
            return None
        assets = tuple(
            SubmittedAsset(str(a), str(t), str(e), bool(r))
            for a, t, e, r in db.execute(
                "SELECT asset, type, etag, revision FROM submission_assets WHERE submission = ?"
                " ORDER BY position",
                (number,),
            )
        )
        found = db.execute(
            "SELECT identifier, reviewer, decision, comment, decision_date FROM"
            " submission_reviews WHERE submission = ?",
            (number,),
        ).fetchone()
        review = None
        if found is not None:
            review = {
                "identifier": int(found[0]),
                "reviewer_identifier": str(found[1]),
                "decision": str(found[2]),
                "comment": str(found[3]),
                "decision_date": str(found[4]),
                "submission_identifier": number,
            }
        return Submission(int(row[0]), str(row[1]), str(row[2]), str(row[3]), assets, review)

    def pending_for(self, asset_identifier: str) -> Submission | None:
        """The pending submission holding this asset (at most one)."""
        row = (
            self._db()
            .execute(
                "SELECT a.submission FROM submission_assets a WHERE a.asset = ? AND NOT EXISTS"
                " (SELECT 1 FROM submission_reviews r WHERE r.submission = a.submission)"
                " ORDER BY a.submission DESC LIMIT 1",
                (asset_identifier,),
            )
            .fetchone()
        )
        return None if row is None else self.get(int(row[0]))

    def numbers(self, requestee: str | None, mode: ListMode, limit: int, offset: int) -> list[int]:
        """Submission numbers by ``mode`` (AIoD's: ``oldest`` / ``newest`` the one oldest or
        newest pending submission; ``pending``, ``completed``, ``all``)."""
        where, args = [], []
        decided = "EXISTS (SELECT 1 FROM submission_reviews r WHERE r.submission = s.identifier)"
        if mode in ("oldest", "newest", "pending"):
            where.append("NOT " + decided)
        elif mode == "completed":
            where.append(decided)
        if requestee is not None:
            where.append("s.requestee = ?")
            args.append(requestee)
        order = "DESC" if mode == "newest" else "ASC"
        if mode in ("oldest", "newest"):
            limit, offset = min(limit, 1), 0
        sql = "SELECT s.identifier FROM submissions s"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY s.identifier {order} LIMIT ? OFFSET ?"
        return [int(n) for (n,) in self._db().execute(sql, (*args, limit, offset))]


def parse_number(text: str) -> int | None:
    """A submission identifier (digits; asset identifiers always have a type prefix)."""
    return int(text) if text.isdigit() and len(text) < 19 else None


def check_assets(identifiers: list[str]) -> list[str]:
    if not identifiers:
        raise CatalogError("A submission names at least one asset (asset_identifiers).")
    if len(identifiers) > MAX_ASSETS:
        raise CatalogError(f"A submission names at most {MAX_ASSETS} assets.")
    if len(set(identifiers)) != len(identifiers):
        raise CatalogError("asset_identifiers names an asset twice.")
    return identifiers


def visible(principal: Principal, submission: Submission) -> bool:
    """Reviewers see every submission; others their own."""
    return principal.reviewer or (
        bool(principal.subject) and submission.requestee == principal.subject
    )


def not_found(number: int) -> NotFound:
    return NotFound(f"No submission with identifier {number} found.")


def own_check(
    principal: Principal, submission: Submission, facts: AssetFacts, author: str | None
) -> None:
    """Nobody reviews a submission with an asset they own, submitted or authored."""
    if principal.subject and principal.subject in (facts.owner, submission.requestee, author):
        raise Forbidden(
            f"Submission {submission.identifier} holds '{facts.entry.identifier}', which you "
            "own, submitted or edited: nobody reviews their own submission."
        )


def bound_check(asset: SubmittedAsset, current: str | None, named: bool, number: int) -> None:
    """Without named versions, an accept needs the asset at its submitted version."""
    if not named and current != asset.etag:
        raise PreconditionFailed(
            f"'{asset.identifier}' has changed since submission {number} was made: read it "
            f"again (GET /submissions/{number}) and name the versions you reviewed "
            "(If-Match or etag), or reject the submission."
        )


def retract_check(principal: Principal, submission: Submission, facts: list[AssetFacts]) -> None:
    if not submission.pending:
        raise Conflict(f"Submission {submission.identifier} is not under review any more.")
    if principal.subject and submission.requestee == principal.subject:
        return
    if not any(can_administer(principal, f) for f in facts):
        raise Forbidden(
            "Only the submitter or an administrator of one of its assets retracts a submission."
        )


def revision_author(revisions: Revisions, asset: SubmittedAsset) -> str | None:
    revision = revisions.get(asset.identifier) if asset.revision else None
    return revision.author if revision is not None else None
