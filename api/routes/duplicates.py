"""Proposed duplicates (issue 18): records of different platforms that look like the same work
without sharing a strong identifier are proposed with a score and its evidence
(``kg.linking``), never merged silently; a moderator confirms or rejects them.

* ``GET /duplicates?status=proposed|confirmed|rejected|all&type=...``: the proposals, best
  score first (admins and reviewers: all; moderators of a type: that type's);
* ``POST /duplicates/{id}/confirm`` / ``POST /duplicates/{id}/reject``: the decision; a
  confirmed pair is the same work (``schema:sameAs`` in the derived link graphs, one search hit).

Authorisation comes first (401 anonymous, 403 not a moderator of the pair's type); the decision
routes take no body. 404 for an unknown proposal or one whose record is no longer public."""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, HTTPException, Path, Query, Request
from starlette.responses import Response

from api.auth.principal import PrincipalDep, forbidden, unauthorized
from kg.access.rules import Principal
from kg.catalog import now
from kg.linking.linker import Linker
from kg.model.fields import ASSET_TYPES

Status = Literal["proposed", "confirmed", "rejected", "all"]
DuplicateId = Annotated[int, Path(ge=1, le=2**62, description="The proposal's id.")]


def get_linker(request: Request) -> Linker:
    linker: Linker | None = getattr(request.app.state, "linker", None)
    if linker is None:
        raise HTTPException(503, "Linking is disabled on this server (AIOD_KG_LINKING_ENABLED).")
    return linker


def moderated(principal: Principal) -> set[str] | None:
    """The asset types whose duplicates ``principal`` decides (None: every type); 401/403."""
    if not principal.authenticated:
        raise unauthorized("Duplicates are for moderators: Authorization: Bearer <token>.")
    if principal.reviewer:  # admins and reviewers
        return None
    types = set(principal.moderated_types())
    if not types:
        raise forbidden("Duplicates are for moderators (a reviewer or update_<type> role).")
    return types


def _json(value: object) -> Response:
    return Response(orjson.dumps(value), media_type="application/json")


def duplicates_router() -> APIRouter:
    router = APIRouter(tags=["duplicates"])

    @router.get(
        "/duplicates",
        operation_id="list_duplicates",
        summary="Likely duplicates across platforms, for moderators",
        description="Pairs of public records that look like the same work without sharing a "
        "strong identifier, with their score (0..1) and the similarity of each feature (name, "
        "description, creators, files). Admins and reviewers see every type, moderators "
        "(update_<type> or delete_<type> role) their types.",
    )
    def list_duplicates(
        request: Request,
        principal: PrincipalDep,
        status: Annotated[Status, Query()] = "proposed",
        type: Annotated[list[str] | None, Query(description="Only these asset types.")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> Response:
        allowed = moderated(principal)
        for name in type or []:
            if name not in ASSET_TYPES:
                raise HTTPException(422, f"Unknown asset type {name!r}.")
        types: set[str] | None = set(type) if type else None
        if allowed is not None:
            types = allowed & types if types is not None else allowed
        linker = get_linker(request)
        items = linker.duplicates(
            None if status == "all" else status, limit=limit, offset=offset, types=types
        )
        base = linker.base_url
        for item in items:
            item["urls"] = [f"{base}/{item['type']}/{i}" for i in item["identifiers"]]
        return _json({"items": items, "limit": limit, "offset": offset})

    def decide(request: Request, principal: Principal, duplicate_id: int, status: str) -> Response:
        allowed = moderated(principal)
        linker = get_linker(request)
        found = linker.duplicate_type(duplicate_id)
        if found is None:
            raise HTTPException(404, f"No proposed duplicate {duplicate_id}.")
        if allowed is not None and found not in allowed:
            raise forbidden(f"Deciding duplicates of {found} needs the update_{found} role.")
        decided = linker.decide(duplicate_id, status, principal.subject, now())
        if decided is None:
            raise HTTPException(404, f"No proposed duplicate {duplicate_id}.")
        return _json(decided)

    @router.post(
        "/duplicates/{duplicate_id}/confirm",
        operation_id="confirm_duplicate",
        summary="Confirm that two records are the same work (moderators)",
    )
    def confirm(request: Request, principal: PrincipalDep, duplicate_id: DuplicateId) -> Response:
        return decide(request, principal, duplicate_id, "confirmed")

    @router.post(
        "/duplicates/{duplicate_id}/reject",
        operation_id="reject_duplicate",
        summary="Reject a proposed duplicate: the records are different works (moderators)",
    )
    def reject(request: Request, principal: PrincipalDep, duplicate_id: DuplicateId) -> Response:
        return decide(request, principal, duplicate_id, "rejected")

    return router
