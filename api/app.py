"""The FastAPI application: ``create_app()`` wires settings, catalog, routes and errors."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors, hardening
from api.auth.routes import auth_router
from api.auth.tokens import OidcValidator
from api.limits import BodySizeLimit
from api.routes.assets import all_asset_routers
from api.routes.backup import backup_router
from api.routes.bookmarks import bookmarks_router
from api.routes.bulk import bulk_router
from api.routes.duplicates import duplicates_router
from api.routes.enrichment import enrichment_router
from api.routes.files import files_router
from api.routes.meta import meta_router, root_router
from api.routes.node import node_router
from api.routes.oai import oai_router
from api.routes.publishing import publishing_router
from api.routes.quality import quality_router
from api.routes.search import search_router, start_search
from api.routes.sparql import sparql_router
from api.routes.user import user_router
from api.ui import install_ui
from kg import __version__
from kg.catalog import Catalog
from kg.derived import open_linker
from kg.formats.rdf_input import body_pool
from kg.settings import Settings
from kg.store.base_url import settle_base_url

DESCRIPTION = """
aiod-kg is a knowledge-graph catalog of AI assets (datasets, models, publications, ...).
It speaks the AIoD REST API v2 (also under `/v2/`); every asset is also RDF
(JSON-LD, Turtle, N-Triples, RDF/XML via `Accept` or `?format=`).
Reads are open for published assets. Writes, drafts and restricted assets need
`Authorization: Bearer <token>`: an OIDC access token, an API key or the admin key.
"""


def create_app(settings: Settings | None = None, catalog: Catalog | None = None) -> FastAPI:
    # no settings given (e.g. uvicorn --factory): the store's remembered base URL wins
    settings = settings or settle_base_url(Settings())
    problems = hardening.production_problems(settings)
    if problems:  # production mode with a missing or default secret: refuse to start
        raise RuntimeError("Refusing to start in production mode: " + " ".join(problems))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = catalog is None
        app.state.catalog = catalog or Catalog(settings)
        app.state.search = start_search(settings, app.state.catalog)
        # links across platforms (kg/linking): follows the catalog's changes in a thread
        app.state.linker = (
            open_linker(settings, app.state.catalog) if settings.linking_enabled else None
        )
        if settings.oidc_issuer and getattr(app.state, "oidc", None) is None:
            # its refresher fetches the provider's keys now, in the background (api/auth)
            app.state.oidc = OidcValidator(settings)
            app.state.oidc.start()
        # the body-reading workers start in the background (kg/formats/bounded.py)
        threading.Thread(target=body_pool, args=(settings,), daemon=True).start()
        app.state.page_slots = None  # made by api.deps.page_slots on this serving loop
        try:
            yield
        finally:
            if app.state.search is not None:
                app.state.search.close()
            if app.state.linker is not None:
                app.state.linker.close()
            if getattr(app.state, "oidc", None) is not None:
                app.state.oidc.close()
            if own:
                app.state.catalog.close()

    app = FastAPI(
        title="aiod-kg",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    if catalog is not None:
        app.state.catalog = catalog
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    hardening.install(app, settings)  # rate limits, CORS, security headers (outermost)
    # Routes are matched in order (~2 us each): /health and /context.jsonld, then the asset
    # routes (the hot path; no other route shares their /{collection}/... paths), then the rest.
    app.include_router(root_router())
    for suffix, prefix in (("", ""), ("_v2", "/v2")):
        for router in all_asset_routers(suffix):
            app.include_router(router, prefix=prefix)
        app.include_router(bulk_router(suffix), prefix=prefix)  # api/routes/bulk.py
    app.include_router(auth_router())
    app.include_router(user_router())  # GET /user/resources (api/routes/user.py)
    app.include_router(publishing_router())
    app.include_router(oai_router())
    app.include_router(sparql_router())
    app.include_router(backup_router())  # POST /admin/backup (api/routes/backup.py)
    app.include_router(node_router())  # /node/local_only (api/routes/node.py)
    app.include_router(duplicates_router())  # /duplicates (api/routes/duplicates.py)
    app.include_router(quality_router())  # /quality (api/routes/quality.py)
    app.include_router(enrichment_router())  # /suggestions (api/routes/enrichment.py)
    for suffix, prefix in (("", ""), ("_v2", "/v2")):
        app.include_router(search_router(suffix), prefix=prefix)
        app.include_router(meta_router(suffix), prefix=prefix)
        app.include_router(bookmarks_router(suffix), prefix=prefix)  # GET/POST/DELETE
        app.include_router(files_router(suffix), prefix=prefix)  # api/routes/files.py

    install_ui(app)  # the web UI: / (search), /share, static files (api/ui)
    return app
