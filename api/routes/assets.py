"""The AIoD REST API v2 contract for every asset type: list, get, create, replace, delete.

Handlers are plain ``def`` functions: FastAPI runs them in its thread pool, so store work
never blocks the event loop. Bodies are read raw and validated by the catalog (SHACL), so
every problem is reported in the same ``{"field", "message", "value"}`` form.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.auth.guard import (
    check_create,
    check_delete,
    check_read_off_loop,
    check_replace,
    private_response,
    readable,
    save_replace,
    visible_page,
)
from api.auth.principal import PrincipalDep, forbidden, get_access, get_principal, unauthorized
from api.deps import CatalogDep, page_slots
from api.linked_data import asset_get
from api.negotiation import Format, body_format, choose_format
from api.preconditions import if_match
from kg.access.rules import USER_PLATFORM, AccessControl, Principal, can_create, can_write
from kg.catalog import Catalog
from kg.formats.croissant import from_croissant, is_croissant
from kg.formats.rdf_input import load_json, read_rdf_body
from kg.formats.representation import render_many
from kg.model.fields import ASSET_TYPES, AssetType
from kg.model.jsonschema import asset_schema

SortKey = Literal["name", "date_modified", "date_created", "identifier"]
Direction = Literal["asc", "desc"]
SORT_DOC = "Order of the list (default: insertion order); `direction` asc or desc."

FORMAT_DOC = (
    "Response format; overrides Accept: json, jsonld, turtle, ntriples, rdfxml "
    "(one asset also: html, croissant for datasets)."
)
IDENTIFIER_DOC = "Asset identifier, e.g. data_... for datasets."
IdentifierPath = Annotated[str, Path(description=IDENTIFIER_DOC)]
# GET of one asset declares its parameters here, not in its signature (see get_asset)
GET_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "identifier",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "description": IDENTIFIER_DOC, "title": "Identifier"},
        "description": IDENTIFIER_DOC,
    },
    {
        "name": "format",
        "in": "query",
        "required": False,
        "schema": {
            "anyOf": [{"type": "string"}, {"type": "null"}],
            "description": FORMAT_DOC,
            "title": "Format",
        },
        "description": FORMAT_DOC,
    },
]
RESPONSE_TYPES: dict[str, dict[str, Any]] = {
    "application/json": {},
    "application/ld+json": {},
    "text/turtle": {},
    "application/n-triples": {},
    "application/rdf+xml": {},
}


def _timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        from datetime import UTC

        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S")


def read_body(request_body: bytes, fmt: Format, asset: AssetType, catalog: Catalog) -> Any:
    """The AIoD JSON of a request body in any accepted format, read within the limits of
    ``kg.formats.rdf_input``: JSON (and Croissant) here with orjson, depth-bounded; every RDF
    format and JSON-LD in a killable worker with a deadline and a memory cap. Call it only
    after :func:`authorise_write`."""
    settings = catalog.settings
    if fmt.name in ("json", "jsonld"):
        document = load_json(request_body, settings.body_max_depth)
        if asset.collection == "datasets" and is_croissant(document):
            return from_croissant(document)  # a Croissant file becomes a dataset
        if fmt.name == "json":
            return document
    return read_rdf_body(settings, asset, fmt.name, request_body, catalog.base_url)


def authorise_write(
    catalog: Catalog,
    access: AccessControl,
    principal: Principal,
    asset: AssetType,
    identifier: str | None = None,
) -> None:
    """What can be decided before the body is read: 401 without credentials; for a create,
    403 unless the caller may create this type (or writes for a platform); for a replace, the
    404 / 403 of ``check_replace``. The checks that depend on the body (platform scope) stay
    in ``check_create`` / ``check_replace``, after parsing."""
    if not principal.authenticated:
        verb = "Creating" if identifier is None else "Changing"
        raise unauthorized(f"{verb} assets needs authentication: Authorization: Bearer <token>.")
    if identifier is None:
        requires_role = catalog.settings.create_requires_role
        if not (
            can_create(principal, asset, None, requires_role)
            or principal.platforms - {USER_PLATFORM}
        ):
            raise forbidden(
                f"Creating {asset.collection} needs the role edit_aiod_resources or "
                f"create_{asset.collection}."
            )
        return
    facts = readable(catalog, access, principal, asset, identifier)
    if not can_write(principal, facts):
        raise forbidden(f"You may read {asset.singular} '{identifier}' but not change it.")


class DirectRoute(APIRoute):
    """An ``APIRoute`` (routed and documented as any other) whose endpoint takes only the
    request and returns a ``Response``: FastAPI's per-request machinery (body reading,
    dependency solving, telemetry) is skipped, 12% of a GET by id. Exceptions reach the
    same handlers (api/errors.py)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            response: Response = await endpoint(request)
            return response

        return handler


def _respond(content: bytes, fmt: Format) -> Response:
    return Response(content, media_type=fmt.media_type, headers={"Vary": "Accept"})


def asset_router(asset: AssetType, suffix: str = "") -> APIRouter:
    """The five operations of one asset type; ``suffix`` keeps operation ids unique."""
    router = APIRouter(tags=[asset.collection])
    name = asset.collection
    create_schema = asset_schema(asset, for_input=True)
    body_doc = {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": create_schema},
                "application/ld+json": {"schema": {"type": "object"}},
                "text/turtle": {"schema": {"type": "string"}},
                "application/n-triples": {"schema": {"type": "string"}},
                "application/rdf+xml": {"schema": {"type": "string"}},
            },
        }
    }
    read_schema = asset_schema(asset, for_input=False)

    @router.get(
        f"/{name}",
        operation_id=f"list_{name}{suffix}",
        summary=f"List {name}",
        responses={
            200: {
                "content": {"application/json": {"schema": {"type": "array", "items": read_schema}}}
                | {k: {} for k in RESPONSE_TYPES if k != "application/json"}
            }
        },
    )
    async def list_assets(
        request: Request,
        catalog: CatalogDep,
        principal: PrincipalDep,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 10,
        date_modified_after: Annotated[datetime | None, Query()] = None,
        date_modified_before: Annotated[datetime | None, Query()] = None,
        sort: Annotated[SortKey | None, Query(description=SORT_DOC)] = None,
        direction: Annotated[Direction, Query()] = "asc",
        format: Annotated[str | None, Query(description=FORMAT_DOC)] = None,
    ) -> Response:
        fmt = choose_format(request)
        limit = min(limit, catalog.settings.max_page_size)
        after, before = _timestamp(date_modified_after), _timestamp(date_modified_before)
        access = get_access(request)

        def page() -> list[bytes]:
            # only what the caller may read (kg/access/rules.py): anonymous callers see
            # published assets
            return visible_page(
                catalog,
                access,
                principal,
                asset,
                offset,
                limit,
                after,
                before,
                sort=sort,
                descending=direction == "desc",
            )

        def render(documents: list[bytes]) -> bytes:
            items = [dict(orjson.loads(d)) for d in documents]
            return render_many(catalog, asset, items, fmt.name)

        async with page_slots(request, catalog):  # the read queues; rendering RDF does not
            documents = await run_in_threadpool(page)
        if fmt.name == "json":  # straight from the document cache, no parsing
            return _respond(b"[" + b",".join(documents) + b"]", fmt)
        return _respond(await run_in_threadpool(render, documents), fmt)

    async def get_asset(request: Request) -> Response:
        # The hot path (DirectRoute): no FastAPI dependencies or declared parameters (solving
        # them cost more than the rest of the request); both parameters are plain strings,
        # documented in GET_PARAMETERS; the principal is resolved exactly as PrincipalDep does.
        identifier: str = request.path_params["identifier"]
        catalog: Catalog = request.app.state.catalog
        principal = await get_principal(request)
        access = get_access(request)
        # 404, exactly as for a missing asset, unless the caller may read it (kg/access/rules.py);
        # the same lookup brings the cached document
        entry = await check_read_off_loop(catalog, access, principal, asset, identifier, True)
        # contact details for those who may see them (kg/access/privacy.py), else public
        if principal.authenticated:
            private = private_response(request, catalog, access, principal, asset, identifier)
            if private is not None:
                return private
        # the asset IRI: content negotiation (HTML, Croissant too), ETag, 304 (api/linked_data)
        return await asset_get(request, catalog, asset, identifier, entry)

    router.add_api_route(
        f"/{name}/{{identifier}}",
        get_asset,
        methods=["GET"],
        operation_id=f"get_{asset.singular}{suffix}",
        summary=f"Get one {asset.singular}",
        openapi_extra={"parameters": GET_PARAMETERS},
        route_class_override=DirectRoute,
        responses={
            200: {
                "content": {"application/json": {"schema": read_schema}}
                | {k: {} for k in RESPONSE_TYPES if k != "application/json"}
            }
        },
    )

    @router.post(
        f"/{name}",
        operation_id=f"create_{asset.singular}{suffix}",
        summary=f"Create a {asset.singular}",
        openapi_extra=body_doc,
        responses={
            200: {
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"identifier": {"type": "string"}},
                        }
                    }
                }
            }
        },
    )
    async def create_asset(
        request: Request, catalog: CatalogDep, principal: PrincipalDep
    ) -> Response:
        fmt = body_format(request)
        authorise_write(catalog, get_access(request), principal, asset)  # before any parsing
        raw = await request.body()
        access = get_access(request)

        def create() -> str:  # one trip to a worker thread: nothing here blocks the loop
            data = read_body(raw, fmt, asset, catalog)
            # 401/403; user uploads start as drafts
            data = check_create(principal, asset, data, catalog.settings.create_requires_role)
            # committed with the creates of other requests arriving meanwhile (group commit)
            identifier = catalog.create(asset, data)
            access.set_owner(identifier, principal.subject)  # the creator administers it
            return identifier

        identifier = await run_in_threadpool(create)
        return Response(orjson.dumps({"identifier": identifier}), media_type="application/json")

    @router.put(
        f"/{name}/{{identifier}}",
        operation_id=f"update_{asset.singular}{suffix}",
        summary=f"Replace a {asset.singular}",
        openapi_extra=body_doc,
    )
    async def replace_asset(
        request: Request, catalog: CatalogDep, identifier: IdentifierPath, principal: PrincipalDep
    ) -> Response:
        fmt = body_format(request)
        access = get_access(request)
        # 401 / 404 / 403 before any parsing (one index lookup)
        await run_in_threadpool(authorise_write, catalog, access, principal, asset, identifier)
        raw = await request.body()
        # If-Match: 412 on a stale ETag, checked under the write lock (api/preconditions.py)
        precondition = if_match(request.headers.getlist("if-match") or None, catalog, asset)

        def replace() -> dict[str, Any]:  # one trip to a worker thread
            data = read_body(raw, fmt, asset, catalog)
            data = check_replace(catalog, access, principal, asset, identifier, data)
            # an edit of a published asset that needs review becomes a pending revision
            # (guard); a direct one is committed with the writes arriving meanwhile
            return save_replace(catalog, access, principal, asset, identifier, data, precondition)

        body = await run_in_threadpool(replace)
        return Response(orjson.dumps(body), media_type="application/json")

    @router.delete(
        f"/{name}/{{identifier}}",
        operation_id=f"delete_{asset.singular}{suffix}",
        summary=f"Delete a {asset.singular}",
    )
    def delete_asset(
        request: Request, catalog: CatalogDep, identifier: IdentifierPath, principal: PrincipalDep
    ) -> Response:
        access = get_access(request)
        check_delete(catalog, access, principal, asset, identifier)
        catalog.delete(asset, identifier)
        access.forget([identifier])
        return Response(orjson.dumps({"identifier": identifier}), media_type="application/json")

    return router


def all_asset_routers(suffix: str = "") -> list[APIRouter]:
    return [asset_router(asset, suffix) for asset in ASSET_TYPES.values()]


__all__ = ["all_asset_routers", "asset_router"]
