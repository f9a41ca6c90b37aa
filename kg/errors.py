"""Errors raised by the knowledge-graph core; the API turns each into one HTTP status."""

from __future__ import annotations

from kg.model.rdf_mapping import Problem


class CatalogError(Exception):
    """Base class: ``detail`` is safe to show to the caller."""

    status = 400

    def __init__(self, detail: object) -> None:
        super().__init__(str(detail))
        self.detail = detail


class NotFound(CatalogError):
    status = 404


class Conflict(CatalogError):
    status = 409

    def __init__(self, detail: object, existing: str | None = None) -> None:
        super().__init__(detail)
        self.existing = existing


class Invalid(CatalogError):
    """The record does not satisfy the shapes (or cannot be read at all)."""

    status = 422

    def __init__(self, problems: list[Problem], message: str = "The record is not valid.") -> None:
        super().__init__(message)
        self.problems = problems
        self.detail = [p.as_dict() for p in problems]


class ParseError(CatalogError):
    """A body that is not well-formed JSON / RDF; ``line``/``column`` where known."""

    status = 400

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.detail = {"message": message, "line": line, "column": column}


class Forbidden(CatalogError):
    """Understood but not allowed: the caller may see the asset but not do this to it, or a
    SPARQL ``SERVICE`` to a host that is not allowed. The one 403 of ``kg``."""

    status = 403


class PreconditionFailed(CatalogError):
    """The caller's ``If-Match`` (or the ETag a reviewer sent) names another version."""

    status = 412


class PreconditionRequired(CatalogError):
    """The operation must name the version it applies to (an ETag) and did not."""

    status = 428


class NotAcceptable(CatalogError):
    """None of the formats the caller accepts can answer this request."""

    status = 406


class QueryTimeout(CatalogError):
    """A query passed the time limit and was stopped."""

    status = 503

    def __init__(self, limit: float) -> None:
        super().__init__(
            f"The query ran longer than the time limit ({limit:g} s) and was stopped. "
            "Narrow it (more specific patterns, a LIMIT) and try again."
        )
        self.limit = limit


class ResultTooLarge(CatalogError):
    """A query's result passed the size cap (the caller can add a LIMIT)."""

    status = 400

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"The result is larger than the limit ({limit} bytes) and was not sent. "
            "Add a LIMIT or select fewer variables."
        )
        self.limit = limit


class UpstreamError(CatalogError):
    """The remote store answered with an error or not at all."""

    status = 502
