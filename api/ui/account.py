"""The UI's signed-in flows: sign-in (``/signin``: OIDC Authorization Code + PKCE in the
browser, or an API key), its redirect target ``/signin/callback``, "My assets"
(``/my/assets``), bookmarks (``/my/bookmarks``) and the reviewer queue (``/review-queue``).

The pages are shells: their scripts (``session.js``, ``signin.js``, ``account.js``) call the
REST API with the token the tab keeps in ``sessionStorage`` (``Authorization: Bearer``; no
cookies, so no CSRF). Request handling never talks to the identity provider: the browser
exchanges the code at the provider's token endpoint (a public client, PKCE S256, state and
nonce checked); the server only hands the page the endpoints of the discovery document its
OIDC refresher thread already fetched (``api.auth.tokens.OidcValidator.discovery``), and the
callback page's CSP lets it connect to that token endpoint and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from api.deps import settings_of
from api.ui.templating import CSP, HEADERS, render
from kg.access.rules import REVIEW_ROLE
from kg.model.fields import PREFIX_TO_TYPE
from kg.model.iris import is_link
from kg.settings import Settings

CALLBACK_PATH = "/signin/callback"


@dataclass(frozen=True)
class Provider:
    """What the browser needs for the Authorization Code flow with one provider."""

    issuer: str
    client_id: str
    authorization_endpoint: str
    token_endpoint: str

    @property
    def token_origin(self) -> str:
        parts = urlsplit(self.token_endpoint)
        return f"{parts.scheme}://{parts.netloc}"


def provider(request: Request, settings: Settings) -> Provider | None:
    """The configured provider's endpoints, or None (no UI client, no issuer, or no
    discovery document yet: the pages then offer key sign-in only)."""
    if not (settings.ui_oidc_client_id and settings.oidc_issuer):
        return None
    validator = getattr(request.app.state, "oidc", None)
    document = getattr(validator, "discovery", None) or {}
    authorize = document.get("authorization_endpoint")
    token = document.get("token_endpoint")
    if not (is_link(authorize) and is_link(token)):
        return None
    return Provider(settings.oidc_issuer, settings.ui_oidc_client_id, str(authorize), str(token))


def _html(page: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    # no-referrer: the provider never sees the page's address (the code is in it)
    extra = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return HTMLResponse(page, headers={**(headers or HEADERS), **extra})


def callback_headers(found: Provider | None) -> dict[str, str]:
    """The callback page may also connect to the provider's token endpoint (the exchange)."""
    if found is None:
        return dict(HEADERS)
    policy = CSP.replace("connect-src 'self'", f"connect-src 'self' {found.token_origin}")
    return {**HEADERS, "Content-Security-Policy": policy}


def account_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/signin")
    def signin(request: Request) -> HTMLResponse:
        settings = settings_of(request)
        return _html(
            render(
                "signin.html",
                page="signin",
                provider=provider(request, settings),
                oidc_issuer=settings.oidc_issuer,
                callback=CALLBACK_PATH,
                catalog_title=settings.catalog_title,
            )
        )

    @router.get(CALLBACK_PATH)
    def callback(request: Request) -> HTMLResponse:
        settings = settings_of(request)
        found = provider(request, settings)
        page = render(
            "signin_callback.html",
            page="signin",
            provider=found,
            callback=CALLBACK_PATH,
            catalog_title=settings.catalog_title,
        )
        return _html(page, callback_headers(found))

    @router.get("/my/assets")
    def my_assets(request: Request) -> HTMLResponse:
        return _account_page(request, "my_assets.html", "my-assets")

    @router.get("/my/bookmarks")
    def my_bookmarks(request: Request) -> HTMLResponse:
        return _account_page(request, "my_bookmarks.html", "my-bookmarks")

    @router.get("/review-queue")
    def review_queue(request: Request) -> HTMLResponse:
        return _account_page(request, "review_queue.html", "review-queue")

    return router


def _account_page(request: Request, template: str, page: str) -> HTMLResponse:
    settings = settings_of(request)
    return _html(
        render(
            template,
            page=page,
            prefixes=",".join(f"{p}:{t.collection}" for p, t in sorted(PREFIX_TO_TYPE.items())),
            review_role=REVIEW_ROLE,
            request_path=request.url.path,
            catalog_title=settings.catalog_title,
        )
    )
