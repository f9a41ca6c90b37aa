"""One error envelope for every failure: ``{"detail": ..., "reference": <hex>}``.

The reference is logged with the error, so a user's report can be matched to the log.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import Send

from kg.errors import CatalogError

log = logging.getLogger("aiod_kg.api")


def _jsonable(value: Any) -> Any:
    """What orjson cannot write itself (e.g. the raw bytes of an unparsable body echoed in a
    validation error) becomes text."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value[:1000]).decode("utf-8", errors="replace")
    return str(value)


def _sanitised(value: Any) -> Any:
    """``value`` with what orjson refuses even with ``default`` (integers beyond 64 bits)
    made text."""
    if isinstance(value, dict):
        return {str(k): _sanitised(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_sanitised(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return str(value)
    return value


def envelope(status: int, detail: Any, headers: dict[str, str] | None = None) -> Response:
    reference = uuid.uuid4().hex
    log.info("error %s %s: %s", status, reference, detail)
    try:
        body = orjson.dumps({"detail": detail, "reference": reference}, default=_jsonable)
    except TypeError:  # e.g. a huge integer echoed from the request
        body = orjson.dumps(
            {"detail": _sanitised(detail), "reference": reference}, default=_jsonable
        )
    return Response(
        body,
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


async def send_envelope(
    send: Send, status: int, detail: Any, headers: dict[str, str] | None = None
) -> None:
    """The envelope sent from ASGI middleware (413 body size, 429 rate limit), which answers
    before FastAPI's exception handlers run; logged with its reference like every other."""
    response = envelope(status, detail, headers)
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": response.raw_headers,
        }
    )
    await send({"type": "http.response.body", "body": response.body})


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    problems = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ()) if part not in ("query", "path", "body")]
        problems.append(
            {
                "field": ".".join(loc),
                "message": error.get("msg", "invalid"),
                "value": error.get("input") if not isinstance(error.get("input"), dict) else None,
            }
        )
    return problems


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into the envelope."""

    @app.exception_handler(CatalogError)
    async def catalog_error(request: Request, exc: CatalogError) -> Response:
        return envelope(exc.status, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def request_validation(request: Request, exc: RequestValidationError) -> Response:
        return envelope(422, _validation_detail(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return envelope(exc.status_code, exc.detail, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        reference = uuid.uuid4().hex
        log.exception("unexpected error %s on %s %s", reference, request.method, request.url.path)
        return Response(
            orjson.dumps({"detail": "Internal server error.", "reference": reference}),
            status_code=500,
            media_type="application/json",
        )
