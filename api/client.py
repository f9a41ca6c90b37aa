"""A small Python client for an aiod-kg server (or any AIoD REST API v2 with its extensions).

    from api.client import Client

    kg = Client("http://127.0.0.1:8000")
    for hit in kg.search("image classification", type="datasets"):
        print(hit.name, hit.url)
    rows = kg.sparql.service("SELECT ?name WHERE { ?d a dcat:Dataset ; schema:name ?name } LIMIT 5")
    frame = rows.to_dataframe()  # when pandas is installed

Writes need ``token``: an API key, an OIDC access token or the admin key (sent as
``Authorization: Bearer``). Errors raise ``ApiError`` subclasses carrying the server's
``detail`` (for 422: ``problems``, one per field) and the ``reference`` of its log line.
Conversions between AIoD JSON, JSON-LD, Turtle and Croissant run locally (``convert``).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx

from kg.formats.convert import convert, from_record, to_record

Asset = dict[str, Any]
JSON_MEDIA = "application/json"
MEDIA = {
    "json": JSON_MEDIA,
    "jsonld": "application/ld+json",
    "turtle": "text/turtle",
    "ntriples": "application/n-triples",
    "rdfxml": "application/rdf+xml",
}
SPARQL_ACCEPT = "application/sparql-results+json, text/turtle;q=0.9"
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


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """An error answer: ``status``, the server's ``detail`` and log ``reference``."""

    def __init__(self, status: int, detail: Any, reference: str | None = None) -> None:
        self.status = status
        self.detail = detail
        self.reference = reference
        message = detail if isinstance(detail, str) else repr(detail)
        super().__init__(
            f"{status}: {message}" + (f" (reference {reference})" if reference else "")
        )


class AuthenticationError(ApiError):
    """401: no or invalid credentials."""


class PermissionDenied(ApiError):
    """403: authenticated, but not allowed."""


class NotFoundError(ApiError):
    """404."""


class ConflictError(ApiError):
    """409: e.g. an asset with the same platform and platform_resource_identifier exists."""


class ValidationError(ApiError):
    """422: the record does not satisfy the shapes; ``problems`` lists them field by field."""

    @property
    def problems(self) -> list[dict[str, Any]]:
        return (
            [p for p in self.detail if isinstance(p, dict)] if isinstance(self.detail, list) else []
        )


_ERRORS: dict[int, type[ApiError]] = {
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
}


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class SearchHit:
    identifier: str
    type: str
    name: str
    url: str
    score: float
    highlight: dict[str, str | None] | None = None
    asset: Asset | None = None


@dataclass(frozen=True)
class SearchResults:
    """One page of search hits, the total number of matches and the facet counts."""

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


class Rows(builtins.list[dict[str, Any]]):
    """SPARQL SELECT answer: one dict per solution (unbound variables are missing), values as
    Python ``str``/``int``/``float``/``bool``; ``vars`` in the query's order."""

    def __init__(self, variables: Sequence[str], rows: Sequence[dict[str, Any]] = ()) -> None:
        super().__init__(rows)
        self.vars = builtins.list(variables)

    def to_dataframe(self) -> Any:
        """A pandas DataFrame (ImportError when pandas is not installed)."""
        import pandas

        return pandas.DataFrame(builtins.list(self), columns=self.vars)


def _value(term: Mapping[str, Any]) -> Any:
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


# --------------------------------------------------------------------------- client


class Client:
    """The REST, search and SPARQL interfaces of one server."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"User-Agent": "aiod-kg-client", "Accept": JSON_MEDIA}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=timeout,
            transport=transport,
            follow_redirects=True,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            detail: Any = response.text
            reference = None
            try:
                body = response.json()
                if isinstance(body, dict) and "detail" in body:
                    detail, reference = body["detail"], body.get("reference")
            except ValueError:
                pass
            raise _ERRORS.get(response.status_code, ApiError)(
                response.status_code, detail, reference
            )
        return response

    @staticmethod
    def _body(data: Asset | str | bytes, format: str) -> tuple[bytes | str, str]:
        if isinstance(data, (str, bytes)):
            return data, MEDIA[format]
        import orjson

        if format != "json":
            raise ValueError("A dict is sent as AIoD JSON; give text or bytes for RDF formats.")
        return orjson.dumps(data), JSON_MEDIA

    # ------------------------------------------------------------------ assets

    def list(self, type: str, *, offset: int = 0, limit: int = 10) -> builtins.list[Asset]:
        """One page of assets of ``type`` (e.g. ``"datasets"``) that the caller may read."""
        answer = self._request("GET", f"/{type}", params={"offset": offset, "limit": limit})
        items: builtins.list[Asset] = answer.json()
        return items

    def list_as(self, type: str, format: str, *, offset: int = 0, limit: int = 10) -> str:
        """One page of assets as ``jsonld``, ``turtle``, ``ntriples`` or ``rdfxml`` text."""
        answer = self._request(
            "GET",
            f"/{type}",
            headers={"Accept": "*/*"},
            params={"offset": offset, "limit": limit, "format": format},
        )
        return answer.text

    def iter(self, type: str, *, page_size: int = 100) -> Iterator[Asset]:
        """Every asset of ``type``, page by page."""
        offset = 0
        while True:
            page = self.list(type, offset=offset, limit=page_size)
            yield from page
            if len(page) < page_size:
                return
            offset += len(page)

    def get(self, type: str, identifier: str) -> Asset:
        """One asset as AIoD JSON."""
        asset: Asset = self._request("GET", f"/{type}/{identifier}").json()
        return asset

    def get_as(self, type: str, identifier: str, format: str) -> Asset | str:
        """One asset as the server renders it: ``jsonld`` and ``croissant`` as dicts,
        ``turtle``, ``ntriples``, ``rdfxml`` as text, ``json`` as AIoD JSON."""
        answer = self._request(
            "GET", f"/{type}/{identifier}", params={"format": format}, headers={"Accept": "*/*"}
        )
        if format in ("json", "jsonld", "croissant"):
            document: Asset = answer.json()
            return document
        return answer.text

    def create(self, type: str, data: Asset | str | bytes, *, format: str = "json") -> str:
        """Create an asset; returns its identifier. ``data`` is AIoD JSON (a dict or, with
        ``format``, JSON-LD / Turtle / N-Triples / RDF/XML text; Croissant as JSON)."""
        body, media = self._body(data, format)
        answer = self._request("POST", f"/{type}", content=body, headers={"Content-Type": media})
        identifier: str = answer.json()["identifier"]
        return identifier

    def update(
        self, type: str, identifier: str, data: Asset | str | bytes, *, format: str = "json"
    ) -> None:
        """Replace an asset's content (PUT): fields left out are removed."""
        body, media = self._body(data, format)
        self._request("PUT", f"/{type}/{identifier}", content=body, headers={"Content-Type": media})

    def delete(self, type: str, identifier: str) -> None:
        self._request("DELETE", f"/{type}/{identifier}")

    def counts(self) -> dict[str, Any]:
        """Number of assets per type (and per platform)."""
        counts: dict[str, Any] = self._request("GET", "/counts").json()
        return counts

    def submit(self, identifier: str, comment: str | None = None) -> str:
        """Submit a draft for review; returns the new status (``submitted``)."""
        answer = self._request(
            "POST", f"/submissions/{identifier}", json={"comment": comment} if comment else None
        )
        status: str = answer.json()["status"]
        return status

    def whoami(self) -> dict[str, Any]:
        """Name, roles and subject of the token's owner (401 without a valid token)."""
        me: dict[str, Any] = self._request("GET", "/authorization_test").json()
        return me

    # ------------------------------------------------------------------ search

    def search(
        self,
        query: str = "",
        *,
        type: str | Sequence[str] | None = None,
        platform: str | Sequence[str] | None = None,
        keyword: str | Sequence[str] | None = None,
        license: str | Sequence[str] | None = None,
        date_from: date | str | None = None,
        date_to: date | str | None = None,
        offset: int = 0,
        limit: int = 10,
        mode: str = "hybrid",
        full: bool = False,
    ) -> SearchResults:
        """Hybrid search over every asset type; filters accept one value or several.
        ``full=True`` includes each hit's asset."""
        params: builtins.list[tuple[str, str | int]] = [
            ("q", query),
            ("offset", offset),
            ("limit", limit),
            ("mode", mode),
        ]
        for name, values in (
            ("type", type),
            ("platform", platform),
            ("keyword", keyword),
            ("license", license),
        ):
            for value in [values] if isinstance(values, str) else values or ():
                params.append((name, value))
        for name, day in (("date_from", date_from), ("date_to", date_to)):
            if day is not None:
                params.append((name, str(day)))
        if full:
            params.append(("get_all", "true"))
        body = self._request("GET", "/search", params=params).json()
        hits = [
            SearchHit(
                h["identifier"],
                h["type"],
                h["name"],
                h["url"],
                h["score"],
                h.get("highlight"),
                h.get("asset"),
            )
            for h in body["items"]
        ]
        return SearchResults(
            body.get("query", query),
            body["total_hits"],
            body["offset"],
            body["limit"],
            hits,
            body.get("facets") or {},
        )

    def similar(self, type: str, identifier: str, limit: int = 10) -> builtins.list[SearchHit]:
        """Assets similar to this one (nearest in the search index)."""
        body = self._request("GET", f"/{type}/{identifier}/similar", params={"limit": limit}).json()
        return [
            SearchHit(
                h["identifier"],
                h["type"],
                h["name"],
                f"{self.base_url}/{h['type']}/{h['identifier']}",
                h["score"],
            )
            for h in body["items"]
        ]

    # ------------------------------------------------------------------ SPARQL

    def sparql(self, query: str) -> Rows | bool | str:
        """Run a SPARQL query: SELECT gives ``Rows`` (``.to_dataframe()``), ASK a bool,
        CONSTRUCT/DESCRIBE Turtle text. The endpoint's prefixes are predeclared."""
        answer = self._request(
            "POST", "/sparql", data={"query": query}, headers={"Accept": SPARQL_ACCEPT}
        )
        media = answer.headers.get("content-type", "").split(";")[0].strip()
        if media != "application/sparql-results+json":
            return answer.text
        body = answer.json()
        if "boolean" in body:
            return bool(body["boolean"])
        variables = body["head"]["vars"]
        rows = [
            {name: _value(term) for name, term in binding.items()}
            for binding in body["results"]["bindings"]
        ]
        return Rows(variables, rows)

    def sparql_dataframe(self, query: str) -> Any:
        """A SELECT query's answer as a pandas DataFrame."""
        rows = self.sparql(query)
        if not isinstance(rows, Rows):
            raise ValueError("Only SELECT queries give a table.")
        return rows.to_dataframe()

    # ------------------------------------------------------------------ conversions

    convert = staticmethod(convert)
    to_record = staticmethod(to_record)
    from_record = staticmethod(from_record)


__all__ = [
    "ApiError",
    "Asset",
    "AuthenticationError",
    "Client",
    "ConflictError",
    "NotFoundError",
    "PermissionDenied",
    "Rows",
    "SearchHit",
    "SearchResults",
    "ValidationError",
    "convert",
    "from_record",
    "to_record",
]
