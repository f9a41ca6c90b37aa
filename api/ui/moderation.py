"""The moderators' page of proposed duplicates (issue 18): ``/moderation/duplicates``.

A shell like the signed-in pages (api/ui/account.py): its script (``static/duplicates.js``)
lists ``GET /duplicates`` with the tab's token -- each pair side by side with its score and the
similarity of each feature -- and confirms or rejects with ``POST /duplicates/{id}/confirm``
or ``/reject``. Nothing is merged without a moderator's confirmation."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from api.deps import settings_of
from api.ui.templating import HEADERS, render

PATH = "/moderation/duplicates"


def moderation_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get(PATH)
    def duplicates(request: Request) -> HTMLResponse:
        settings = settings_of(request)
        page = render(
            "duplicates.html",
            page="duplicates",
            request_path=PATH,
            catalog_title=settings.catalog_title,
        )
        return HTMLResponse(page, headers={**HEADERS, "Cache-Control": "no-store"})

    return router
