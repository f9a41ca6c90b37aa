"""The exceptions of the client: one per kind of error answer, each carrying the server's
``{"detail", "reference"}`` envelope, and one for a server that cannot be reached."""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """Base class of every error this package raises."""


class Unreachable(ClientError):
    """No answer: connection refused, DNS failure, or the timeout passed."""


class ApiError(ClientError):
    """An error answer: ``status``, the server's ``detail`` and the ``reference`` of its log
    line (quote it when reporting a problem)."""

    def __init__(self, status: int, detail: Any, reference: str | None = None) -> None:
        self.status = status
        self.detail = detail
        self.reference = reference
        message = detail if isinstance(detail, str) else repr(detail)
        suffix = f" (reference {reference})" if reference else ""
        super().__init__(f"{status}: {message}{suffix}")


class BadRequest(ApiError):
    """400: e.g. a SPARQL syntax error (``detail`` then has ``line`` and ``column``)."""


class AuthenticationError(ApiError):
    """401: no or invalid credentials."""


class PermissionDenied(ApiError):
    """403: authenticated, but not allowed."""


class NotFoundError(ApiError):
    """404 (also for assets the caller may not see)."""


class ConflictError(ApiError):
    """409: e.g. an asset with the same platform and platform_resource_identifier exists."""


class ValidationError(ApiError):
    """422: the record does not satisfy the shapes; ``problems`` lists them field by field."""

    @property
    def problems(self) -> list[dict[str, Any]]:
        if not isinstance(self.detail, list):
            return []
        return [p for p in self.detail if isinstance(p, dict)]


class RateLimited(ApiError):
    """429: too many writes; ``retry_after`` seconds (when the server said)."""

    retry_after: float | None = None


ERRORS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    429: RateLimited,
}
