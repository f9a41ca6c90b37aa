"""``Client``: the REST (AIoD v2), search and SPARQL interfaces of one aiod-kg server, over
httpx. ``client.datasets`` (and every other asset type) is an ``Assets`` view with typed
get/create/replace/delete/list/iter/search."""

from __future__ import annotations

import builtins
import json
import os
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from aiod_kg_client import files
from aiod_kg_client.errors import ERRORS, ApiError, RateLimited, Unreachable
from aiod_kg_client.files import Progress
from aiod_kg_client.results import (
    Asset,
    Rows,
    SearchHit,
    SearchResults,
    TypeSearchResults,
    rows_from_json,
)

JSON_MEDIA = "application/json"
# request bodies and ``get_as`` formats -> media types
MEDIA = {
    "json": JSON_MEDIA,
    "jsonld": "application/ld+json",
    "croissant": "application/ld+json",
    "turtle": "text/turtle",
    "ntriples": "application/n-triples",
    "rdfxml": "application/rdf+xml",
}
JSON_FORMATS = ("json", "jsonld", "croissant")
SPARQL_ACCEPT = "application/sparql-results+json, text/turtle;q=0.9"
ASSET_TYPES = (
    "datasets",
    "ml_models",
    "publications",
    "experiments",
    "services",
    "case_studies",
    "computational_assets",
    "educational_resources",
    "events",
    "news",
    "projects",
    "organisations",
    "persons",
    "teams",
    "contacts",
    "platforms",
)
Values = str | Sequence[str] | None


class Client:
    """One server. ``token`` (an API key, an OIDC access token or the admin key) is sent as
    ``Authorization: Bearer``; it is needed for writes, drafts and restricted assets.
    ``timeout`` is in seconds (or an ``httpx.Timeout``)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float | httpx.Timeout = 30.0,
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

    def __getitem__(self, asset_type: str) -> Assets:
        """``client["datasets"]``: the typed view of one asset type."""
        return Assets(self, asset_type)

    def __getattr__(self, name: str) -> Assets:
        if name in ASSET_TYPES:  # client.datasets, client.ml_models, ...
            return Assets(self, name)
        raise AttributeError(name)

    # ------------------------------------------------------------------ plumbing

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; an error answer raises the ``ApiError`` subclass of its status."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise Unreachable(f"{self.base_url}: {exc}") from exc
        if response.status_code >= 400:
            raise _error(response)
        return response

    @staticmethod
    def _body(data: Asset | str | bytes, format: str) -> tuple[bytes | str, str]:
        if format not in MEDIA:
            raise ValueError(f"Unknown format {format!r}; one of: {', '.join(MEDIA)}.")
        if isinstance(data, (str, bytes)):
            return data, MEDIA[format]
        if format not in JSON_FORMATS:
            raise ValueError("A dict is sent as JSON; give text or bytes for RDF formats.")
        return json.dumps(data).encode(), MEDIA[format]

    # ------------------------------------------------------------------ assets

    def list(self, type: str, *, offset: int = 0, limit: int = 10) -> builtins.list[Asset]:
        """One page of assets of ``type`` (e.g. ``"datasets"``) that the caller may read."""
        answer = self.request("GET", f"/{type}", params={"offset": offset, "limit": limit})
        items: builtins.list[Asset] = answer.json()
        return items

    def list_as(self, type: str, format: str, *, offset: int = 0, limit: int = 10) -> str:
        """One page of assets as ``jsonld``, ``turtle``, ``ntriples`` or ``rdfxml`` text."""
        answer = self.request(
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
        asset: Asset = self.request("GET", f"/{type}/{identifier}").json()
        return asset

    def get_as(self, type: str, identifier: str, format: str) -> Asset | str:
        """One asset as the server renders it: ``json`` (AIoD JSON), ``jsonld`` and
        ``croissant`` as dicts; ``turtle``, ``ntriples``, ``rdfxml`` as text."""
        if format not in MEDIA:
            raise ValueError(f"Unknown format {format!r}; one of: {', '.join(MEDIA)}.")
        answer = self.request(
            "GET", f"/{type}/{identifier}", params={"format": format}, headers={"Accept": "*/*"}
        )
        if format in JSON_FORMATS:
            document: Asset = answer.json()
            return document
        return answer.text

    def get_graph(self, type: str, identifier: str) -> Any:
        """One asset as an rdflib ``Graph`` (needs ``aiod-kg-client[rdf]``)."""
        from aiod_kg_client.rdf import parse, require_rdflib

        require_rdflib()  # fail before the request when rdflib is missing
        text = self.get_as(type, identifier, "ntriples")
        return parse(str(text), "ntriples")

    def create(self, type: str, data: Asset | str | bytes, *, format: str = "json") -> str:
        """Create an asset; returns its identifier. ``data`` is AIoD JSON (a dict), or with
        ``format`` JSON-LD / Croissant / Turtle / N-Triples / RDF/XML."""
        body, media = self._body(data, format)
        answer = self.request("POST", f"/{type}", content=body, headers={"Content-Type": media})
        identifier: str = answer.json()["identifier"]
        return identifier

    def replace(
        self, type: str, identifier: str, data: Asset | str | bytes, *, format: str = "json"
    ) -> None:
        """Replace an asset's content (PUT): fields left out are removed."""
        body, media = self._body(data, format)
        self.request("PUT", f"/{type}/{identifier}", content=body, headers={"Content-Type": media})

    def delete(self, type: str, identifier: str) -> None:
        self.request("DELETE", f"/{type}/{identifier}")

    def counts(self) -> dict[str, Any]:
        """Number of assets per type and platform."""
        counts: dict[str, Any] = self.request("GET", "/counts").json()
        return counts

    def submit(self, identifier: str, comment: str | None = None) -> str:
        """Submit a draft for review; returns the new status (``submitted``)."""
        answer = self.request(
            "POST", f"/submissions/{identifier}", json={"comment": comment} if comment else None
        )
        status: str = answer.json()["status"]
        return status

    def whoami(self) -> dict[str, Any]:
        """Name, roles and subject of the token's owner (401 without a valid token)."""
        me: dict[str, Any] = self.request("GET", "/authorization_test").json()
        return me

    # ------------------------------------------------------------------ search

    def search(
        self,
        query: str = "",
        *,
        type: Values = None,
        platform: Values = None,
        keyword: Values = None,
        license: Values = None,
        date_from: date | str | None = None,
        date_to: date | str | None = None,
        offset: int = 0,
        limit: int = 10,
        mode: str = "hybrid",
        full: bool = False,
    ) -> SearchResults:
        """Hybrid search over every asset type (``/search``), with facet counts. Filters take
        one value or several; ``full=True`` includes each hit's asset."""
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
            params.extend((name, value) for value in _values(values))
        for name, day in (("date_from", date_from), ("date_to", date_to)):
            if day is not None:
                params.append((name, str(day)))
        if full:
            params.append(("get_all", "true"))
        body = self.request("GET", "/search", params=params).json()
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

    def search_type(
        self,
        type: str,
        query: str = "",
        *,
        platforms: Values = None,
        fields: Values = None,
        offset: int = 0,
        limit: int = 10,
        full: bool = False,
    ) -> TypeSearchResults:
        """``/search/{type}`` (the AIoD contract): the matching assets of one type; ``fields``
        restricts matching to those AIoD fields, ``full=True`` returns whole assets."""
        params: builtins.list[tuple[str, str | int]] = [
            ("search_query", query),
            ("offset", offset),
            ("limit", limit),
        ]
        params.extend(("platforms", p) for p in _values(platforms))
        params.extend(("search_fields", f) for f in _values(fields))
        if full:
            params.append(("get_all", "true"))
        body = self.request("GET", f"/search/{type}", params=params).json()
        return TypeSearchResults(
            body["total_hits"],
            body.get("offset", offset),
            body.get("limit", limit),
            body["resources"],
        )

    def similar(self, type: str, identifier: str, limit: int = 10) -> builtins.list[SearchHit]:
        """Assets similar to this one (nearest in the search index)."""
        body = self.request("GET", f"/{type}/{identifier}/similar", params={"limit": limit}).json()
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
        """Run a SPARQL query: SELECT gives ``Rows`` (``.to_pandas()``), ASK a bool,
        CONSTRUCT/DESCRIBE Turtle text. The endpoint's prefixes are predeclared."""
        answer = self.request(
            "POST", "/sparql", data={"query": query}, headers={"Accept": SPARQL_ACCEPT}
        )
        media = answer.headers.get("content-type", "").split(";")[0].strip()
        if media != "application/sparql-results+json":
            return answer.text
        return rows_from_json(answer.json())

    def sparql_frame(self, query: str) -> Any:
        """A SELECT query's answer as a pandas DataFrame (needs ``aiod-kg-client[pandas]``)."""
        rows = self.sparql(query)
        if not isinstance(rows, Rows):
            raise ValueError("Only SELECT queries give a table.")
        return rows.to_pandas()

    # ------------------------------------------------------------------ files

    def upload(
        self,
        type: str,
        identifier: str,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        media_type: str | None = None,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Upload a file (streamed, sha256-checked) as a distribution of the asset;
        ``progress(done, total)`` is called per MiB sent."""
        return files.upload(
            self, type, identifier, path, name=name, media_type=media_type, progress=progress
        )

    def download(
        self,
        type: str,
        identifier: str,
        name: str,
        target: str | os.PathLike[str] = ".",
        *,
        progress: Progress | None = None,
    ) -> Path:
        """Download a stored file to ``target`` (a file or a directory), checked against its
        sha256; returns the path written."""
        return files.download(self, type, identifier, name, target, progress=progress)

    def files(self, type: str, identifier: str) -> builtins.list[dict[str, Any]]:
        """The files stored for an asset (name, content_url, sha256, ...)."""
        found: builtins.list[dict[str, Any]] = self.request(
            "GET", f"/{type}/{identifier}/files"
        ).json()
        return found

    def delete_file(self, type: str, identifier: str, name: str) -> None:
        self.request("DELETE", files.file_path(type, identifier, name))


class Assets:
    """The operations on one asset type: ``client.datasets.get(id)``, ``.create(record)``,
    ``.replace(id, record)``, ``.delete(id)``, ``.list()``, ``.iter()``, ``.search(q)``."""

    def __init__(self, client: Client, type: str) -> None:
        self.client = client
        self.type = type

    def get(self, identifier: str) -> Asset:
        return self.client.get(self.type, identifier)

    def get_as(self, identifier: str, format: str) -> Asset | str:
        return self.client.get_as(self.type, identifier, format)

    def create(self, data: Asset | str | bytes, *, format: str = "json") -> str:
        return self.client.create(self.type, data, format=format)

    def replace(self, identifier: str, data: Asset | str | bytes, *, format: str = "json") -> None:
        self.client.replace(self.type, identifier, data, format=format)

    def delete(self, identifier: str) -> None:
        self.client.delete(self.type, identifier)

    def list(self, *, offset: int = 0, limit: int = 10) -> builtins.list[Asset]:
        return self.client.list(self.type, offset=offset, limit=limit)

    def iter(self, *, page_size: int = 100) -> Iterator[Asset]:
        return self.client.iter(self.type, page_size=page_size)

    def search(self, query: str = "", **filters: Any) -> SearchResults:
        """``/search`` restricted to this type (filters as in ``Client.search``)."""
        return self.client.search(query, type=self.type, **filters)

    def similar(self, identifier: str, limit: int = 10) -> builtins.list[SearchHit]:
        return self.client.similar(self.type, identifier, limit)


def _values(values: Values) -> builtins.list[str]:
    if values is None:
        return []
    return [values] if isinstance(values, str) else builtins.list(values)


def _error(response: httpx.Response) -> ApiError:
    """The exception for an error answer, with the server's ``detail`` and ``reference``."""
    detail: Any = response.text
    reference = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "detail" in body:
        detail, reference = body["detail"], body.get("reference")
    error = ERRORS.get(response.status_code, ApiError)(response.status_code, detail, reference)
    if isinstance(error, RateLimited):
        try:
            error.retry_after = float(response.headers.get("retry-after", ""))
        except ValueError:
            error.retry_after = None
    return error
