"""Suggested enrichment (issue 18, kg/enrichment): research areas, application areas and
keywords suggested from AIoD's taxonomies, with their provenance, never written over what the
publisher wrote.

* ``GET /suggestions/{identifier}``: the open suggestions of an asset (whoever may read the
  asset: a draft's suggestions are as invisible as the draft, the same 404 as a missing asset)
  and ``can_decide``: whether the caller may accept them (the asset page's buttons);
* ``POST /suggestions/{identifier}/accept?field=...&term=...``: someone with write on the asset
  accepts one; the term is added to the field through the normal validated write path (the
  publisher's values stay; an edit that needs review becomes a pending revision);
* ``POST /suggestions/{identifier}/reject?field=...&term=...``: it is not suggested again.

Authorisation comes first (401, then the read 404, then 403); the decision routes take no body.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, HTTPException, Path, Query, Request
from starlette.responses import Response

from api.auth.guard import check_read, check_write, edit
from api.auth.principal import PrincipalDep, get_access
from api.deps import CatalogDep
from kg.access.rules import Principal, can_write
from kg.catalog import Catalog, now
from kg.enrichment.book import SuggestionBook
from kg.model.fields import AssetType

Field = Literal["research_area", "application_area", "keyword"]
IdentifierPath = Annotated[str, Path(max_length=64, description="The asset's identifier.")]
TermQuery = Annotated[str, Query(min_length=1, max_length=256, description="The term.")]


def get_suggestions(request: Request) -> SuggestionBook:
    linker = getattr(request.app.state, "linker", None)
    for follower in getattr(linker, "followers", ()):
        if isinstance(follower, SuggestionBook):
            return follower
    raise HTTPException(
        503,
        "Suggestions are disabled on this server (they need AIOD_KG_LINKING_ENABLED and "
        "AIOD_KG_SEARCH_ENABLED).",
    )


def _json(value: object) -> Response:
    return Response(orjson.dumps(value), media_type="application/json")


def _asset(catalog: Catalog, identifier: str) -> AssetType:
    asset = catalog.type_of_identifier(identifier)
    if asset is None:
        raise HTTPException(404, f"Asset '{identifier}' not found in the database.")
    return asset


def enrichment_router() -> APIRouter:
    router = APIRouter(tags=["enrichment"])

    @router.get(
        "/suggestions/{identifier}",
        operation_id="asset_suggestions",
        summary="Terms from AIoD's taxonomies suggested for an asset",
        description="Research areas, application areas and keywords the embedding model "
        "suggests for the asset (cosine similarity in `score`), not yet accepted or rejected. "
        "The same suggestions with their provenance are the derived graph "
        "`{base}/suggestions/{identifier}` (public assets: in SPARQL).",
    )
    def suggestions(
        request: Request, catalog: CatalogDep, principal: PrincipalDep, identifier: IdentifierPath
    ) -> Response:
        asset = _asset(catalog, identifier)
        access = get_access(request)
        check_read(catalog, access, principal, asset, identifier)
        book = get_suggestions(request)
        facts = access.facts(identifier, asset.collection) if principal.authenticated else None
        return _json(
            {
                "identifier": identifier,
                "graph": book.graph_iri(identifier),
                "generated_by": book.activity(),
                "can_decide": facts is not None and can_write(principal, facts),
                "items": book.suggestions(identifier),
            }
        )

    def decide(
        request: Request,
        catalog: Catalog,
        principal: Principal,
        identifier: str,
        field: str,
        term: str,
        status: str,
    ) -> Response:
        asset = _asset(catalog, identifier)
        access = get_access(request)
        check_write(catalog, access, principal, asset, identifier)  # 401 / 404 / 403
        book = get_suggestions(request)
        if not book.is_suggested(identifier, field, term):
            raise HTTPException(404, f"No open suggestion {term!r} for {field} of {identifier}.")
        body: dict[str, object] = {"identifier": identifier}
        if status == "accepted":

            def add(data: dict[str, Any]) -> dict[str, Any]:
                values = data.get(field) or []
                if term not in values:
                    data[field] = [*values, term]  # the publisher's values stay
                return data

            body = edit(catalog, access, principal, asset, identifier, add)
        book.decide(identifier, field, term, status, principal.subject or "", now())
        return _json({**body, "field": field, "term": term, "status": status})

    @router.post(
        "/suggestions/{identifier}/accept",
        operation_id="accept_suggestion",
        summary="Accept a suggested term: it is added to the asset (write access)",
    )
    def accept(
        request: Request,
        catalog: CatalogDep,
        principal: PrincipalDep,
        identifier: IdentifierPath,
        field: Annotated[Field, Query()],
        term: TermQuery,
    ) -> Response:
        return decide(request, catalog, principal, identifier, field, term, "accepted")

    @router.post(
        "/suggestions/{identifier}/reject",
        operation_id="reject_suggestion",
        summary="Reject a suggested term: it is not suggested again (write access)",
    )
    def reject(
        request: Request,
        catalog: CatalogDep,
        principal: PrincipalDep,
        identifier: IdentifierPath,
        field: Annotated[Field, Query()],
        term: TermQuery,
    ) -> Response:
        return decide(request, catalog, principal, identifier, field, term, "rejected")

    return router
