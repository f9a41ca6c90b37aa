"""Request body size limit (``AIOD_KG_MAX_BODY_BYTES``), answered with the error envelope."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import send_envelope

# file uploads stream to storage under their own caps (api/routes/files.py, AIOD_KG_FILES_*)
_FILE_UPLOAD = re.compile(r"^(/v2)?/[a-z_]+/[^/]+/files/[^/]+$")
_FILE_FORM = re.compile(r"^(/v2)?/[a-z_]+/[^/]+/files$")  # POST: the share page's form


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """Refuses bodies over ``max_bytes`` with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send) -> None:
        await send_envelope(send, 413, f"Request body too large (at most {self.max_bytes} bytes).")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or (scope.get("method") == "PUT" and _FILE_UPLOAD.match(scope.get("path", "")))
            or (scope.get("method") == "POST" and _FILE_FORM.match(scope.get("path", "")))
        ):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_large = int(value) > self.max_bytes
                except ValueError:
                    too_large = False
                if too_large:
                    await self._refuse(send)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send)
