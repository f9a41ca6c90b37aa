"""``POST /bulk/{collection}``: many creates in one request, for another aiod-kg pushing to
this one (kg/sync/pusher.py: a node's push sync). Not part of the AIoD REST API: a client that
finds no such route (404/405) creates one asset per ``POST /{collection}``, as the AIoD API
asks; this route does exactly what that many of those would, in one catalog batch.

The body is a JSON array of at most ``BULK_MAX`` AIoD records (AIoD JSON only, no RDF or
Croissant). Authorisation first, as for one create (401/403 before the body is read; only
the admin and principals with a ``platform_<name>`` role: a bulk request is one write of the
write-rate limit, api/hardening.py), then
each record's own ``check_create`` (platform scope; user uploads become drafts); the records
allowed are converted, validated and written by ``Catalog.save_many`` (mode ``create``: a
record whose platform id exists is refused, not replaced). The answer is one item per record,
in order: ``{"identifier": ...}``, or ``{"status": 403 | 409 | 422, "detail": ...}`` as the
single create would have answered (409 also carries ``existing``).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.auth.guard import check_create
from api.auth.principal import PrincipalDep, forbidden, get_access
from api.deps import CatalogDep
from api.routes.assets import authorise_write
from kg.access.rules import USER_PLATFORM
from kg.errors import CatalogError, NotFound, ParseError
from kg.formats.rdf_input import load_json
from kg.model.fields import ASSET_TYPES

BULK_MAX = 1000  # records in one request (the body is also within AIOD_KG_MAX_BODY_BYTES)


def _conflict(singular: str, existing: str) -> dict[str, Any]:
    return {
        "status": 409,
        "detail": f"There already exists a {singular} with the same platform and "
        f"platform_resource_identifier, with identifier={existing}.",
        "existing": existing,
    }


def bulk_router(suffix: str = "") -> APIRouter:
    """The route; ``suffix`` keeps operation ids unique (mounted at / and /v2)."""
    router = APIRouter(tags=["node"])

    @router.post(
        "/bulk/{collection}",
        operation_id=f"bulk_create{suffix}",
        summary="Create many assets of one type (aiod-kg push sync; not in the AIoD API)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}}
                },
            }
        },
    )
    async def bulk_create(
        request: Request, catalog: CatalogDep, principal: PrincipalDep, collection: str
    ) -> Response:
        asset = ASSET_TYPES.get(collection)
        if asset is None:
            raise NotFound(f"No asset type '{collection}'.")
        access = get_access(request)
        authorise_write(catalog, access, principal, asset)  # before any parsing
        if not (principal.admin or principal.platforms - {USER_PLATFORM}):
            # for nodes (a platform_<name> key) and the admin: one request is one write of the
            # write-rate limit, so users keep creating one asset per request
            raise forbidden("Bulk creates need a platform_<name> role or the admin key.")
        raw = await request.body()
        requires_role = catalog.settings.create_requires_role

        def create() -> list[dict[str, Any]]:  # one trip to a worker thread
            records = load_json(raw, catalog.settings.body_max_depth)
            if not isinstance(records, list):
                raise ParseError("A bulk body is a JSON array of records.")
            if len(records) > BULK_MAX:
                raise CatalogError(f"At most {BULK_MAX} records in one bulk request.")
            out: list[dict[str, Any] | None] = [None] * len(records)
            allowed: list[tuple[int, Any]] = []
            for position, record in enumerate(records):
                try:
                    allowed.append(
                        (position, check_create(principal, asset, record, requires_role))
                    )
                except HTTPException as exc:
                    out[position] = {"status": exc.status_code, "detail": exc.detail}
            results = catalog.save_many(asset, [r for _, r in allowed], mode="create")
            created = [r.identifier for r in results if r.ok and r.identifier]
            access.set_owners(created, principal.subject)  # one transaction for the batch
            for (position, _), result in zip(allowed, results, strict=True):
                if result.problems:
                    problems = [p.as_dict() for p in result.problems]
                    out[position] = {"status": 422, "detail": problems}
                elif result.conflict is not None:
                    out[position] = _conflict(asset.singular, result.conflict)
                elif result.identifier is not None:
                    out[position] = {"identifier": result.identifier}
            return [o if o is not None else {"status": 500, "detail": "not written"} for o in out]

        outcome = await run_in_threadpool(create)
        return Response(orjson.dumps(outcome), media_type="application/json")

    return router


__all__ = ["BULK_MAX", "bulk_router"]
