"""Errors raised by the knowledge-graph core; the API turns each into one HTTP status."""

from __future__ import annotations

from kg.rdf_mapping import Problem


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
