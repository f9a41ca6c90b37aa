"""Typed answers: search hits and pages, and SPARQL SELECT rows with Python values."""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Asset = dict[str, Any]
XSD = "http://www.w3.org/2001/XMLSchema#"
_INTEGERS = {
    f"{XSD}{t}"
    for t in (
        "integer",
        "int",
        "long",
        "short",
        "byte",
        "nonNegativeInteger",
        "positiveInteger",
        "nonPositiveInteger",
        "negativeInteger",
        "unsignedInt",
        "unsignedLong",
        "unsignedShort",
        "unsignedByte",
    )
}
_FLOATS = {f"{XSD}{t}" for t in ("decimal", "double", "float")}


@dataclass(frozen=True)
class SearchHit:
    """One hit of ``/search`` (or ``/{type}/{id}/similar``)."""

    identifier: str
    type: str
    name: str
    url: str
    score: float
    highlight: dict[str, str | None] | None = None
    asset: Asset | None = None


@dataclass(frozen=True)
class SearchResults:
    """One page of ``/search`` hits, the total number of matches and the facet counts."""

    query: str
    total: int
    offset: int
    limit: int
    hits: list[SearchHit]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)

    def __iter__(self) -> Iterator[SearchHit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)


@dataclass(frozen=True)
class TypeSearchResults:
    """One page of ``/search/{type}`` (the AIoD contract): the matching assets themselves."""

    total: int
    offset: int
    limit: int
    resources: list[Asset]

    def __iter__(self) -> Iterator[Asset]:
        return iter(self.resources)

    def __len__(self) -> int:
        return len(self.resources)


class Rows(builtins.list[dict[str, Any]]):
    """A SPARQL SELECT answer: one dict per solution (unbound variables are missing), values as
    Python ``str``/``int``/``float``/``bool``; ``vars`` in the query's order."""

    def __init__(self, variables: Sequence[str], rows: Sequence[dict[str, Any]] = ()) -> None:
        super().__init__(rows)
        self.vars = builtins.list(variables)

    def to_pandas(self) -> Any:
        """A pandas DataFrame, one column per variable (needs ``aiod-kg-client[pandas]``)."""
        try:
            import pandas
        except ImportError:
            raise ImportError(
                "Rows.to_pandas() needs pandas: pip install 'aiod-kg-client[pandas]'"
            ) from None
        return pandas.DataFrame(builtins.list(self), columns=self.vars)

    to_dataframe = to_pandas


def term_value(term: Mapping[str, Any]) -> Any:
    """The Python value of one SPARQL JSON result term (numbers and booleans typed)."""
    value = term.get("value")
    if term.get("type") == "bnode":
        return f"_:{value}"
    datatype = term.get("datatype")
    try:
        if datatype in _INTEGERS:
            return int(str(value))
        if datatype in _FLOATS:
            return float(str(value))
    except ValueError:
        return value
    if datatype == f"{XSD}boolean":
        return value in ("true", "1")
    return value


def rows_from_json(body: Mapping[str, Any]) -> Rows | bool:
    """``application/sparql-results+json``: ``Rows`` for SELECT, ``bool`` for ASK."""
    if "boolean" in body:
        return bool(body["boolean"])
    return Rows(
        body["head"]["vars"],
        [
            {name: term_value(term) for name, term in binding.items()}
            for binding in body["results"]["bindings"]
        ],
    )
