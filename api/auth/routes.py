"""Endpoints of authentication and access control.

* ``GET /authorization_test``: ``{"name", "roles"}`` of the caller (the AIoD SDK's
  ``get_current_user``), plus ``subject``, ``groups`` and ``admin``;
* ``POST/GET /api_keys``, ``DELETE /api_keys/{id}``: admins create (shown once), list and
  revoke API keys;
* ``GET/PUT /assets/{identifier}/access``: owner, status and grants of an asset; its
  administrators change grants and restrict it;
* AIoD's review routes (kg/access/submissions.py): ``POST /submissions
  {asset_identifiers, comment}`` (one submission, several assets), ``GET
  /submissions?mode=oldest|newest|all|pending|completed`` (all for reviewers, one's own
  otherwise), ``GET /submissions/{number}`` (with each asset's submitted and current version),
  ``POST /submissions/retract/{number}``, ``POST /reviews {submission_identifier, decision:
  accepted|rejected, comment}`` (an accept applies to the versions submitted, 412 if one
  changed, unless the reviewer names the versions read: ``If-Match`` or ``etag``);
* the same flow one asset at a time: ``POST /submissions/{identifier}`` (submit), ``DELETE
  /submissions/{identifier}`` (retract), ``GET /submissions/{identifier}`` (the pending
  revision of a published asset, with its ETag), ``POST /reviews/{identifier}`` (accept /
  reject; an accept must send the ETag of the version reviewed, ``If-Match`` or ``etag``:
  428 without), ``GET /reviews/{identifier}`` (history).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.auth.guard import readable
from api.auth.principal import AdminPrincipalDep, PrincipalDep, UserDep, get_access
from api.deps import CatalogDep
from api.preconditions import parse_if_match, review_precondition
from kg.access.revisions import Revision
from kg.access.rules import can_administer
from kg.access.submissions import MAX_ASSETS, Submission, parse_number, version_tag
from kg.access.workflow import ReviewPrecondition, Workflow
from kg.catalog import Catalog
from kg.errors import NotFound
from kg.model.fields import ASSET_TYPES, AssetType
from kg.store.index import Entry


def _json(value: object, status: int = 200) -> Response:
    return Response(orjson.dumps(value), status_code=status, media_type="application/json")


def _asset_of(catalog: Catalog, identifier: str) -> AssetType:
    asset = catalog.type_of_identifier(identifier)
    if asset is None:
        raise HTTPException(404, f"Asset '{identifier}' not found in the database.")
    return asset


class NewKey(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    roles: list[str] = Field(default_factory=list, max_length=100)


class Grant(BaseModel):
    user: str | None = Field(None, description="The user's subject (the token's sub).")
    group: str | None = Field(None, description="A group name (the token's groups claim).")
    permission: Literal["read", "write", "admin"] = "read"


class AccessChange(BaseModel):
    restricted: bool | None = Field(
        None,
        description="true: only the owner and grantees see the asset (status "
        "restricted); false: lift the restriction (back to draft).",
    )
    grants: list[Grant] | None = Field(None, description="Replaces every grant when given.")


class ReviewDecision(BaseModel):
    decision: Literal["accept", "reject"]
    comment: str | None = Field(None, max_length=10_000)
    etag: str | None = Field(
        None,
        max_length=200,
        description="The ETag of the version reviewed (or send If-Match); an accept needs it.",
    )


class Comment(BaseModel):
    comment: str | None = Field(None, max_length=10_000)


class NewSubmission(BaseModel):
    asset_identifiers: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=MAX_ASSETS, description="The assets to publish, all or none."
    )
    comment: str | None = Field(None, max_length=10_000)


class NewReview(BaseModel):
    submission_identifier: int = Field(ge=1, le=10**15)
    decision: Literal["accepted", "rejected"]
    comment: str | None = Field(None, max_length=10_000)
    etag: str | list[Annotated[str, Field(max_length=200)]] | None = Field(
        None,
        max_length=MAX_ASSETS,
        description="Optional: the ETags of the versions reviewed (or If-Match). Without, "
        "an accept applies only if no asset changed since the submission (else 412).",
    )


Mode = Literal["oldest", "newest", "all", "pending", "completed"]
MODE_DOC = (
    "oldest / newest: the one oldest or newest pending submission; pending, completed, all "
    "(default pending: the review queue)."
)


def named_versions(tags: set[str], catalog: Catalog) -> ReviewPrecondition:
    """A multi-asset accept naming versions: each asset's current version among ``tags``."""

    def check(entry: Entry, revision: Revision | None) -> None:
        single = review_precondition(tags, catalog, ASSET_TYPES[entry.type])
        assert single is not None
        single(entry, revision)

    return check


def submission_view(flow: Workflow, submission: Submission) -> dict[str, Any]:
    """A submission with, for each asset, the version submitted and the one current now
    (the pending edit for an edit of a published asset) -- what a reviewer reviews."""
    assets = []
    for item in submission.assets:
        asset = ASSET_TYPES[item.type]
        revision = flow.revisions.get(item.identifier) if item.revision else None
        try:
            if revision is not None:
                document: Any = revision.data()
                current: str | None = revision.etag
            else:
                document = flow.catalog.full(asset, item.identifier)  # submitter, reviewers
                current = version_tag(flow.catalog.document(asset, item.identifier))
        except NotFound:
            document, current = None, None
        assets.append(
            {
                "asset_identifier": item.identifier,
                "asset_type": item.type,
                "pending_revision": item.revision,
                "submitted_etag": item.etag,
                "etag": current,
                "changed_since_submission": current != item.etag,
                "asset": document,
            }
        )
    return {**submission.as_dict(), "assets": assets}


def auth_router() -> APIRouter:
    router = APIRouter(tags=["authentication"])

    @router.get(
        "/authorization_test",
        operation_id="authorization_test",
        summary="Name and roles of the authenticated caller",
    )
    def authorization_test(principal: UserDep) -> Response:
        return _json(
            {
                "name": principal.name,
                "roles": sorted(principal.roles),
                "subject": principal.subject,
                "groups": sorted(principal.groups),
                "admin": principal.admin,
            }
        )

    @router.post(
        "/api_keys",
        operation_id="create_api_key",
        tags=["api keys"],
        summary="Create an API key (admins; the key is shown once)",
    )
    def create_key(request: Request, body: NewKey, principal: AdminPrincipalDep) -> Response:
        key, secret = get_access(request).create_key(body.name, body.roles, principal.subject)
        return _json({**key.as_dict(), "key": secret})

    @router.get(
        "/api_keys",
        operation_id="list_api_keys",
        tags=["api keys"],
        summary="List API keys (admins; never the keys themselves)",
    )
    def list_keys(request: Request, principal: AdminPrincipalDep) -> Response:
        return _json([k.as_dict() for k in get_access(request).api_keys()])

    @router.delete(
        "/api_keys/{key_id}",
        operation_id="revoke_api_key",
        tags=["api keys"],
        summary="Revoke an API key (admins)",
    )
    def revoke_key(request: Request, key_id: str, principal: AdminPrincipalDep) -> Response:
        return _json(get_access(request).revoke_key(key_id).as_dict())

    def _access_view(request: Request, catalog: Catalog, identifier: str) -> dict[str, Any]:
        access = get_access(request)
        facts = access.facts(identifier)
        assert facts is not None
        return {
            "identifier": identifier,
            "owner": facts.owner,
            "status": facts.entry.status,
            "grants": [
                {kind: name, "permission": permission} for kind, name, permission in facts.grants
            ],
        }

    @router.get(
        "/assets/{identifier}/access",
        operation_id="get_asset_access",
        tags=["access"],
        summary="Owner, status and grants of an asset",
    )
    def get_access_view(
        request: Request, catalog: CatalogDep, principal: PrincipalDep, identifier: str
    ) -> Response:
        asset = _asset_of(catalog, identifier)
        facts = readable(catalog, get_access(request), principal, asset, identifier)
        if not can_administer(principal, facts):
            raise HTTPException(403, "Only the asset's administrators see its grants.")
        return _json(_access_view(request, catalog, identifier))

    @router.put(
        "/assets/{identifier}/access",
        operation_id="set_asset_access",
        tags=["access"],
        summary="Change an asset's grants or restrict it",
    )
    def set_access(
        request: Request,
        catalog: CatalogDep,
        principal: UserDep,
        identifier: str,
        body: AccessChange,
    ) -> Response:
        asset = _asset_of(catalog, identifier)
        access = get_access(request)
        facts = readable(catalog, access, principal, asset, identifier)
        if not can_administer(principal, facts):
            raise HTTPException(403, "Only the asset's administrators change its access.")
        if body.grants is not None:
            triples = []
            for grant in body.grants:
                if (grant.user is None) == (grant.group is None):
                    raise HTTPException(422, "Each grant names exactly one user or group.")
                kind, name = (
                    ("user", grant.user) if grant.user is not None else ("group", grant.group)
                )
                triples.append((kind, str(name), grant.permission))
            access.set_grants(identifier, triples, principal.subject)
        if body.restricted is not None:
            Workflow(catalog, access).restrict(principal, asset, identifier, body.restricted)
        return _json(_access_view(request, catalog, identifier))

    @router.post(
        "/submissions",
        operation_id="create_submission",
        tags=["review"],
        summary="Submit assets for review (AIoD's shape: one submission, several assets)",
    )
    async def create_submission(
        request: Request, catalog: CatalogDep, principal: UserDep, body: NewSubmission
    ) -> Response:
        flow = Workflow(catalog, get_access(request))
        found = await run_in_threadpool(
            flow.submit_many, principal, body.asset_identifiers, body.comment
        )
        return _json({"submission_identifier": found.identifier, **found.as_dict()})

    @router.get(
        "/submissions",
        operation_id="list_submissions",
        tags=["review"],
        summary="Submissions (all for reviewers, one's own otherwise)",
    )
    def submissions(
        request: Request,
        catalog: CatalogDep,
        principal: UserDep,
        mode: Annotated[Mode, Query(description=MODE_DOC)] = "pending",
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Response:
        flow = Workflow(catalog, get_access(request))
        return _json([s.as_dict() for s in flow.submissions(principal, mode, limit, offset)])

    @router.get(
        "/submissions/{identifier}",
        operation_id="get_submission",
        tags=["review"],
        summary="A submission with its assets (a number), or an asset's pending revision",
    )
    def get_submission(
        request: Request, catalog: CatalogDep, principal: UserDep, identifier: str
    ) -> Response:
        flow = Workflow(catalog, get_access(request))
        number = parse_number(identifier)
        if number is not None:
            return _json(submission_view(flow, flow.submission(principal, number)))
        asset = _asset_of(catalog, identifier)
        revision = flow.pending(principal, asset, identifier)
        return Response(
            revision.document, media_type="application/json", headers={"ETag": revision.etag}
        )

    @router.post(
        "/submissions/retract/{identifier}",
        operation_id="retract_submission_by_number",
        tags=["review"],
        summary="Retract a pending submission (drafts again; pending edits dropped)",
    )
    async def retract_submission(
        request: Request,
        catalog: CatalogDep,
        principal: UserDep,
        identifier: Annotated[int, Path(ge=1, le=10**15)],
    ) -> Response:
        flow = Workflow(catalog, get_access(request))
        found = await run_in_threadpool(flow.retract_submission, principal, identifier)
        assert found.review is not None
        return _json(
            {
                "review_identifier": found.review["identifier"],
                "submission_identifier": found.identifier,
                "decision": "retracted",
            }
        )

    @router.post(
        "/reviews",
        operation_id="review_submission",
        tags=["review"],
        summary="Accept (publish) or reject a submission; never one's own",
    )
    async def review_submission(
        request: Request, catalog: CatalogDep, principal: UserDep, body: NewReview
    ) -> Response:
        flow = Workflow(catalog, get_access(request))
        tags = parse_if_match(request.headers.getlist("if-match") or None)
        for etag in [body.etag] if isinstance(body.etag, str) else body.etag or []:
            tags = (tags or set()) | (parse_if_match(etag) or set())
        precondition = None if tags is None else named_versions(tags, catalog)
        found = await run_in_threadpool(
            flow.decide,
            principal,
            body.submission_identifier,
            body.decision,
            body.comment,
            precondition,
        )
        assert found.review is not None
        return _json(found.review)

    @router.post(
        "/submissions/{identifier}",
        operation_id="submit_asset",
        tags=["review"],
        summary="Submit an asset for review (draft, rejected or restricted)",
    )
    async def submit(
        request: Request,
        catalog: CatalogDep,
        principal: UserDep,
        identifier: str,
        body: Comment | None = None,
    ) -> Response:
        asset = _asset_of(catalog, identifier)
        flow = Workflow(catalog, get_access(request))
        data = await run_in_threadpool(
            flow.submit, principal, asset, identifier, body.comment if body else None
        )
        return _json({"identifier": identifier, "status": data["aiod_entry"]["status"]})

    @router.delete(
        "/submissions/{identifier}",
        operation_id="retract_submission",
        tags=["review"],
        summary="Retract a submission (back to draft)",
    )
    async def retract(
        request: Request, catalog: CatalogDep, principal: UserDep, identifier: str
    ) -> Response:
        asset = _asset_of(catalog, identifier)
        flow = Workflow(catalog, get_access(request))
        data = await run_in_threadpool(flow.retract, principal, asset, identifier)
        return _json({"identifier": identifier, "status": data["aiod_entry"]["status"]})

    @router.post(
        "/reviews/{identifier}",
        operation_id="review_asset",
        tags=["review"],
        summary="Accept (publish) or reject a submitted asset; never one's own",
    )
    async def review(
        request: Request,
        catalog: CatalogDep,
        principal: UserDep,
        identifier: str,
        body: ReviewDecision,
    ) -> Response:
        asset = _asset_of(catalog, identifier)
        flow = Workflow(catalog, get_access(request))
        # the version reviewed: If-Match, or the body's etag (both: either may match)
        tags = parse_if_match(request.headers.getlist("if-match") or None)
        if body.etag is not None:
            tags = (tags or set()) | (parse_if_match(body.etag) or set())
        precondition = review_precondition(tags, catalog, asset)
        data = await run_in_threadpool(
            flow.review, principal, asset, identifier, body.decision, body.comment, precondition
        )
        return _json({"identifier": identifier, "status": data["aiod_entry"]["status"]})

    @router.get(
        "/reviews/{identifier}",
        operation_id="review_history",
        tags=["review"],
        summary="The review history of an asset",
    )
    def history(
        request: Request, catalog: CatalogDep, principal: PrincipalDep, identifier: str
    ) -> Response:
        asset = _asset_of(catalog, identifier)
        flow = Workflow(catalog, get_access(request))
        return _json(flow.history(principal, asset, identifier))

    return router
