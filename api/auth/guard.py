"""The checks the asset routes make before they read or write (rules: ``kg.access.rules``).

Reads: an asset the caller may not read raises the catalog's own NotFound -- byte for byte the
answer for an identifier that never existed. Writes: the same 404 for an asset the caller may
not read; 401 without credentials; 403 for a visible asset the caller may not change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.auth.principal import forbidden, unauthorized
from api.linked_data import content_etag, negotiate
from kg.access.privacy import private_allowed
from kg.access.rules import (
    PUBLIC_STATUSES,
    AccessControl,
    AssetFacts,
    Principal,
    can_create,
    can_delete,
    can_write,
    publishes_directly,
)
from kg.access.workflow import Workflow
from kg.catalog import Catalog
from kg.model.fields import AssetType
from kg.store.index import Entry


def readable(
    catalog: Catalog, access: AccessControl, principal: Principal, asset: AssetType, identifier: str
) -> AssetFacts:
    return access.readable(principal, asset, identifier, catalog.not_found(asset, identifier))


def check_read(
    catalog: Catalog,
    access: AccessControl,
    principal: Principal,
    asset: AssetType,
    identifier: str,
    with_document: bool = False,
    known: Entry | None = None,
) -> Entry:
    """``readable`` without the facts (one index lookup for a published asset, which
    ``with_document`` also brings the cached AIoD JSON; ``known``: that row, in hand); the
    asset's index row."""
    return access.check_read(
        principal, asset, identifier, catalog.not_found(asset, identifier), with_document, known
    )


async def check_read_off_loop(
    catalog: Catalog,
    access: AccessControl,
    principal: Principal,
    asset: AssetType,
    identifier: str,
    with_document: bool = False,
) -> Entry:
    """``check_read`` from a coroutine: on SQLite (microseconds) right here, on PostgreSQL (a
    network round trip) in the thread pool, never blocking the event loop -- unless the row is
    in the hot-document cache (kg/store/document_cache.py) and decides the check alone (a
    published asset, an admin, another type's identifier): then here too, from memory, on
    the row the cache gave (no second lookup that an eviction in between would send to the
    database from the event loop)."""
    args = (catalog, access, principal, asset, identifier, with_document)
    index = catalog.index
    if index.dialect == "sqlite":
        return check_read(*args)
    if with_document and (cache := index.cache) is not None:
        hot = cache.lookup(identifier)
        if hot is not None and (
            hot.status in PUBLIC_STATUSES or principal.admin or hot.type != asset.collection
        ):
            return check_read(*args, hot)
    return await run_in_threadpool(check_read, *args)


def check_write(
    catalog: Catalog, access: AccessControl, principal: Principal, asset: AssetType, identifier: str
) -> AssetFacts:
    """What decides a change before any body is read (file uploads, api/routes/files.py): 401
    without credentials, the read 404 for an asset the caller may not read, 403 for a visible
    asset the caller may not change (owner, ``write`` grant, platform or admin may)."""
    if not principal.authenticated:
        raise unauthorized("Changing assets needs authentication: Authorization: Bearer <token>.")
    facts = readable(catalog, access, principal, asset, identifier)
    if not can_write(principal, facts):
        raise forbidden(f"You may read {asset.singular} '{identifier}' but not change it.")
    return facts


def _platform(data: Any) -> str | None:
    if isinstance(data, dict):
        platform = data.get("platform")
        return platform if isinstance(platform, str) else None
    return None


def _with_status(data: Any, status: str | None) -> Any:
    """The record with ``aiod_entry.status`` set (None: the status field removed, so the
    catalog keeps the stored one)."""
    if not isinstance(data, dict):
        return data
    entry = data.get("aiod_entry")
    entry = dict(entry) if isinstance(entry, dict) else {}
    if status is None:
        entry.pop("status", None)
    else:
        entry["status"] = status
    return {**data, "aiod_entry": entry}


def check_create(
    principal: Principal, asset: AssetType, data: Any, requires_role: bool = True
) -> Any:
    """The record to create: 401/403 if the principal may not; user uploads become drafts
    (``requires_role``: the setting AIOD_KG_CREATE_REQUIRES_ROLE)."""
    if not principal.authenticated:
        raise unauthorized("Creating assets needs authentication: Authorization: Bearer <token>.")
    platform = _platform(data)
    if not can_create(principal, asset, platform, requires_role):
        if platform is not None and platform != "aiod":
            raise forbidden(
                f"Writing assets of platform '{platform}' needs the role platform_{platform}."
            )
        raise forbidden(
            f"Creating {asset.collection} needs the role edit_aiod_resources or "
            f"create_{asset.collection}."
        )
    if publishes_directly(principal, platform):
        return data
    if isinstance(data, dict) and asset.collection != "platforms":
        # a user upload: platform "aiod" and its own identifier (never another asset's, whose
        # existence a conflict would reveal)
        data = {
            k: v for k, v in data.items() if k not in ("platform", "platform_resource_identifier")
        }
    if "aiod_entry" not in asset.by_name:
        return data
    return _with_status(data, "draft")


def check_replace(
    catalog: Catalog,
    access: AccessControl,
    principal: Principal,
    asset: AssetType,
    identifier: str,
    data: Any,
) -> Any:
    """The record to write over an existing asset (404 / 401 / 403 as the module says)."""
    if not principal.authenticated:
        raise unauthorized("Changing assets needs authentication: Authorization: Bearer <token>.")
    facts = readable(catalog, access, principal, asset, identifier)
    if not can_write(principal, facts):
        raise forbidden(f"You may read {asset.singular} '{identifier}' but not change it.")
    if publishes_directly(principal, facts.entry.platform):
        return _same_platform(principal, asset, identifier, facts, data)
    if isinstance(data, dict) and asset.collection != "platforms":
        # the platform identity stays: no probing other assets' identities through conflicts
        data = {
            **data,
            "platform": facts.entry.platform,
            "platform_resource_identifier": facts.entry.platform_resource_identifier,
        }
    if "aiod_entry" not in asset.by_name:
        return data
    return _with_status(data, None)  # status changes go through the review workflow


def _same_platform(
    principal: Principal, asset: AssetType, identifier: str, facts: AssetFacts, data: Any
) -> Any:
    """A connector's PUT keeps the asset on its platform: 403 for another ``platform`` (it
    would move the asset out of the connector's scope, or probe another platform's ids through
    the 409); a missing one means the current one. Admins may move assets."""
    if principal.admin or not isinstance(data, dict) or asset.collection == "platforms":
        return data
    platform = data.get("platform")
    if platform is None:
        data = {**data, "platform": facts.entry.platform}
        if data.get("platform_resource_identifier") is None:
            data["platform_resource_identifier"] = facts.entry.platform_resource_identifier
    elif platform != facts.entry.platform:
        raise forbidden(
            f"{asset.label} '{identifier}' belongs to platform '{facts.entry.platform}'; "
            "a connector key cannot move it to another platform."
        )
    return data


def save_replace(
    catalog: Catalog,
    access: AccessControl,
    principal: Principal,
    asset: AssetType,
    identifier: str,
    data: Any,
    precondition: Callable[[Entry], None] | None = None,
) -> dict[str, Any]:
    """Write a checked PUT: directly, or -- an edit of a published asset by somebody whose
    edits need review -- as a pending revision, the published version staying public until a
    reviewer accepts it (kg/access/workflow.py). Returns the response body."""
    flow = Workflow(catalog, access)
    facts = readable(catalog, access, principal, asset, identifier)
    if facts.public and isinstance(data, dict) and not flow.publishes_edits(principal, facts):
        revision = flow.propose(principal, asset, identifier, data, precondition)
        return {"identifier": identifier, "pending_review": True, "revision_etag": revision.etag}
    catalog.replace(asset, identifier, data, precondition)
    return {"identifier": identifier}


def edit(
    catalog: Catalog,
    access: AccessControl,
    principal: Principal,
    asset: AssetType,
    identifier: str,
    change: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """Read, change and write one asset under the catalog's write lock, so that no other
    write lands in between: ``change`` gets the whole record (private fields too, which the
    write keeps) and returns the new one, checked and written as a PUT (``save_replace``)."""
    with catalog.write_lock:
        new = check_replace(
            catalog, access, principal, asset, identifier, change(catalog.full(asset, identifier))
        )
        return save_replace(catalog, access, principal, asset, identifier, new)


def check_delete(
    catalog: Catalog, access: AccessControl, principal: Principal, asset: AssetType, identifier: str
) -> None:
    if not principal.authenticated:
        raise unauthorized("Deleting assets needs authentication: Authorization: Bearer <token>.")
    facts = readable(catalog, access, principal, asset, identifier)
    if not can_delete(principal, facts):
        raise forbidden(f"You may read {asset.singular} '{identifier}' but not delete it.")


def owner_subject(principal: Principal) -> str:
    if not principal.subject:
        raise HTTPException(500, "Authenticated principal without a subject.")
    return principal.subject


def visible_page(
    catalog: Catalog,
    access: AccessControl,
    principal: Principal,
    asset: AssetType,
    offset: int,
    limit: int,
    modified_after: str | None = None,
    modified_before: str | None = None,
    platform: str | None = None,
    sort: str | None = None,
    descending: bool = False,
) -> list[bytes]:
    """A page of AIoD JSON documents of the assets the principal may read (``sort``: see
    kg/store/index.py SORT_COLUMNS)."""
    entries = access.page(
        principal,
        asset.collection,
        offset,
        limit,
        modified_after,
        modified_before,
        platform,
        sort=sort,
        descending=descending,
    )
    out = []
    for entry in entries:
        if private_allowed(access, principal, asset, entry.identifier):
            out.append(orjson.dumps(catalog.full(asset, entry.identifier)))
            continue
        if entry.document is not None:
            out.append(entry.document)
            continue
        triples = catalog.store.graph(catalog.iri(asset, entry.identifier))
        if triples:
            out.append(orjson.dumps(catalog.from_triples(asset, entry.identifier, triples)))
    return out


def private_response(
    request: Request,
    catalog: Catalog,
    access: AccessControl,
    principal: Principal,
    asset: AssetType,
    identifier: str,
) -> Response | None:
    """``GET /{type}/{id}`` as AIoD JSON with the private fields (kg/model/private.py), for
    a caller who may see them (kg/access/privacy.py); None: serve the public view. Its ETag
    is the public document's, the one ``If-Match`` compares with."""
    if not private_allowed(access, principal, asset, identifier):
        return None
    if negotiate(request, asset).name != "json":
        return None
    body = orjson.dumps(catalog.full(asset, identifier))
    public = catalog.document(asset, identifier)
    return Response(
        body,
        media_type="application/json",
        headers={"ETag": content_etag(public), "Cache-Control": "private, no-store"},
    )
