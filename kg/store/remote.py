"""A ``GraphStore`` on any SPARQL 1.1 engine: Query + Update + Graph Store Protocol over HTTP.

Selected with ``AIOD_KG_STORE=sparql+http://host:port[/path][?options]``:

* ``sparql+http://127.0.0.1:7878`` -- Oxigraph server (``/query``, ``/update``, ``/store``);
* ``sparql+http://dba:dba@127.0.0.1:8890/?dialect=virtuoso`` -- Virtuoso (``/sparql``,
  updates and the Graph Store Protocol behind digest authentication on ``/sparql-auth`` and
  ``/sparql-graph-crud-auth``);
* ``sparql+http://127.0.0.1:3030/ds?dialect=fuseki`` -- Apache Jena Fuseki (``/ds/query``, ...);
* any other engine: ``?dialect=generic&query=/q&update=/u&store=/gsp`` (``store`` optional).

Options (URL query): ``dialect``, ``query``, ``update``, ``store`` (paths), ``auth``
(``basic`` or ``digest``, with the URL's user and password), ``timeout`` (seconds per request).
``sparql+https://`` speaks TLS.

Every replace or delete is ONE SPARQL Update request (``kg.store.embedded.update_request``), which
Oxigraph, Virtuoso and Fuseki each run as one transaction: a reader sees the old graphs or the
new, never a mix. Graph reads use the Graph Store Protocol where the engine has it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx
import orjson
import pyoxigraph as ox

from kg.errors import QueryTimeout, ResultTooLarge, UpstreamError
from kg.model.rdf_mapping import IRI, Lit, Term, Triple
from kg.store.embedded import from_ox, nt_term, serialize_triples, update_request

SCHEMES = ("sparql+http", "sparql+https")
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
CANCELLED_MARKER = b"The SPARQL operation has been cancelled"  # Oxigraph's --timeout-s
#: graphs a new Virtuoso database holds for itself, kept out of the endpoint's dataset
VIRTUOSO_SYSTEM_GRAPHS = (
    "http://www.openlinksw.com/schemas/virtrdf#",
    "http://www.w3.org/ns/ldp#",
    "http://localhost:8890/sparql",
    "http://localhost:8890/DAV/",
)
#: how engines say that a query hit their time or cost limit
TIMEOUT_MARKERS = ("exceeds the limit", "SR171", "timed out", "Timeout", "cancelled")
RDF_MEDIA_FORMATS: dict[str, ox.RdfFormat] = {
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "text/plain": ox.RdfFormat.N_TRIPLES,
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/n-quads": ox.RdfFormat.N_QUADS,
}


def is_remote(location: str) -> bool:
    return location.split("://", 1)[0].lower() in SCHEMES


@dataclass(frozen=True)
class Endpoints:
    """Where one engine answers, parsed from a ``sparql+http://`` URL."""

    base: str  # scheme://host:port
    dialect: str
    query: str
    update: str
    store: str | None  # Graph Store Protocol
    store_graph_param: str = "graph"
    union_params: tuple[tuple[str, str], ...] = ()  # added when the default graph is the union
    auth: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 60.0

    @classmethod
    def parse(cls, location: str) -> Endpoints:
        parts = urlsplit(location)
        if parts.scheme.lower() not in SCHEMES:
            raise ValueError(f"not a remote store URL (sparql+http://...): {location!r}")
        if not parts.hostname:
            raise ValueError(f"no host in {location!r}")
        scheme = parts.scheme.lower().split("+", 1)[1]
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        base = f"{scheme}://{host}" + (f":{parts.port}" if parts.port else "")
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        path = parts.path.rstrip("/")
        dialect = options.get("dialect") or ("oxigraph" if not path else "generic")
        presets: dict[str, dict[str, object]] = {
            "oxigraph": {
                "query": f"{path}/query",
                "update": f"{path}/update",
                "store": f"{path}/store",
                "union_params": (("union-default-graph", ""),),
            },
            "virtuoso": {
                "query": f"{path}/sparql",
                "update": f"{path}/sparql-auth",
                "store": f"{path}/sparql-graph-crud-auth",
                "store_graph_param": "graph-uri",
                "auth": "digest",
            },
            "fuseki": {
                "query": f"{path}/query",
                "update": f"{path}/update",
                "store": f"{path}/data",
                "union_params": (("default-graph-uri", "urn:x-arq:UnionGraph"),),
            },
            "generic": {"query": path or "/sparql", "update": path or "/sparql", "store": None},
        }
        if dialect not in presets:
            raise ValueError(f"unknown dialect {dialect!r}; one of {', '.join(presets)}")
        preset = presets[dialect]
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        return cls(
            base=base,
            dialect=dialect,
            query=options.get("query") or str(preset["query"]),
            update=options.get("update") or str(preset["update"]),
            store=options.get("store") or preset.get("store"),  # type: ignore[arg-type]
            store_graph_param=str(preset.get("store_graph_param", "graph")),
            union_params=preset.get("union_params", ()),  # type: ignore[arg-type]
            auth=options.get("auth") or (str(preset["auth"]) if "auth" in preset else None)
            if user
            else None,
            user=user,
            password=password,
            timeout=float(options.get("timeout", 60.0)),
        )


def term_from_json(binding: Mapping[str, str]) -> Term:
    """A term of the SPARQL 1.1 JSON results format (also Virtuoso's ``typed-literal``)."""
    kind = binding.get("type")
    value = binding.get("value", "")
    if kind == "uri":
        return IRI(value)
    if kind == "bnode":
        return IRI(f"_:{value}")
    if binding.get("xml:lang"):
        return Lit(value, RDF_LANG_STRING)
    return Lit(value, binding.get("datatype") or XSD_STRING)


@dataclass
class RemoteAnswer:
    """A query answer read from the engine, within the limits."""

    content_type: str
    body: bytes


class RemoteStore:
    """``GraphStore`` over HTTP; thread-safe (one pooled ``httpx.Client``)."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.endpoints = Endpoints.parse(location)
        e = self.endpoints
        auth: httpx.Auth | None = None
        if e.user is not None:
            if e.auth == "digest":
                auth = httpx.DigestAuth(e.user, e.password or "")
            else:
                auth = httpx.BasicAuth(e.user, e.password or "")
        self.auth = auth
        self.client = httpx.Client(
            base_url=e.base,
            timeout=e.timeout,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )
        self._lock = threading.Lock()  # digest auth keeps its nonce state per object

    # ------------------------------------------------------------------ HTTP helpers

    def _auth(self, path: str) -> Any:
        """The credentials for ``path`` (httpx's "no auth" marker when there are none)."""
        e = self.endpoints
        if self.auth is None or (e.dialect == "virtuoso" and path == e.query):
            # Virtuoso's /sparql is anonymous; only /sparql-auth and the GSP take digest
            return httpx.USE_CLIENT_DEFAULT
        return self.auth

    def _check(self, response: httpx.Response, what: str) -> httpx.Response:
        if response.status_code >= 400:
            text = response.text[:500].strip()
            raise UpstreamError(
                f"The store ({self.endpoints.base}) refused the {what}: "
                f"{response.status_code} {text}"
            )
        return response

    def _post_update(self, request: str) -> None:
        e = self.endpoints
        try:
            if e.dialect == "virtuoso":
                # Virtuoso hangs on some non-form POST bodies; a form POST always works
                response = self.client.post(
                    e.update, data={"update": request}, auth=self._auth(e.update)
                )
            else:
                response = self.client.post(
                    e.update,
                    content=request.encode("utf-8"),
                    headers={"Content-Type": "application/sparql-update; charset=utf-8"},
                    auth=self._auth(e.update),
                )
        except httpx.HTTPError as exc:
            raise UpstreamError(f"The store ({e.base}) did not answer the update: {exc}") from exc
        self._check(response, "update")

    def update(self, request: str) -> None:
        """Run one SPARQL Update request (one transaction on the engine)."""
        self._post_update(request)

    def _write(self, request: str) -> None:
        if self.endpoints.dialect == "virtuoso":
            # Virtuoso 7 tells "x" from "x"^^xsd:string (RDF 1.1 says they are one term): store
            # the plain form, which is what queries write
            request = request.replace(f'"^^<{XSD_STRING}>', '"')
        self._post_update(request)

    def _select(self, query: str) -> list[dict[str, Mapping[str, str]]]:
        data = self._query_json(query)
        bindings: list[dict[str, Mapping[str, str]]] = data.get("results", {}).get("bindings", [])
        return bindings

    def _query_json(self, query: str) -> dict[str, Any]:
        e = self.endpoints
        try:
            response = self.client.post(
                e.query,
                data={"query": query},
                headers={"Accept": "application/sparql-results+json"},
                auth=self._auth(e.query),
            )
        except httpx.HTTPError as exc:
            raise UpstreamError(f"The store ({e.base}) did not answer a query: {exc}") from exc
        data: dict[str, Any] = orjson.loads(self._check(response, "query").content)
        return data

    # ------------------------------------------------------------------ GraphStore

    def replace_graphs(self, graphs: Mapping[str, Sequence[Triple]]) -> None:
        if graphs:
            self._write(update_request(graphs))

    def insert_new_graphs(self, graphs: Mapping[str, Sequence[Triple]]) -> None:
        """New graphs: one N-Quads POST where the engine takes datasets (Oxigraph)."""
        e = self.endpoints
        if e.dialect != "oxigraph" or e.store is None:
            self.replace_graphs(graphs)
            return
        lines = [
            f"<{s}> <{p}> {nt_term(o)} <{iri}> .\n"
            for iri, triples in graphs.items()
            for s, p, o in triples
        ]
        if not lines:
            return
        try:
            response = self.client.post(
                e.store,
                content="".join(lines).encode("utf-8"),
                headers={"Content-Type": "application/n-quads"},
                auth=self._auth(e.store),
            )
        except httpx.HTTPError as exc:
            raise UpstreamError(f"The store ({e.base}) did not answer a load: {exc}") from exc
        self._check(response, "load")

    def delete_graphs(self, iris: Iterable[str]) -> None:
        request = update_request({}, list(iris))
        if request:
            self._write(request)

    def graph(self, iri: str) -> list[Triple]:
        e = self.endpoints
        if e.store is None:
            rows = self._select(f"SELECT ?s ?p ?o WHERE {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}")
            return [(r["s"]["value"], r["p"]["value"], term_from_json(r["o"])) for r in rows]
        try:
            response = self.client.get(
                e.store,
                params={e.store_graph_param: iri},
                headers={"Accept": "application/n-triples"},
                auth=self._auth(e.store),
            )
        except httpx.HTTPError as exc:
            raise UpstreamError(f"The store ({e.base}) did not answer a read: {exc}") from exc
        if response.status_code == 404:
            return []
        self._check(response, "graph read")
        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        fmt = RDF_MEDIA_FORMATS.get(media, ox.RdfFormat.N_TRIPLES)
        out: list[Triple] = []
        for quad in ox.parse(response.content, format=fmt):
            subject = quad.subject
            out.append(
                (
                    subject.value if isinstance(subject, ox.NamedNode) else f"_:{subject.value}",
                    quad.predicate.value,
                    from_ox(quad.object),
                )
            )
        return out

    def has_graph(self, iri: str) -> bool:
        data = self._query_json(f"ASK {{ GRAPH <{iri}> {{ ?s ?p ?o }} }}")
        return bool(data.get("boolean"))

    def graph_names(self) -> Iterator[str]:
        for row in self._select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"):
            if row.get("g", {}).get("type") == "uri":
                yield row["g"]["value"]

    def serialize(self, triples: Sequence[Triple], fmt: str) -> bytes:
        return serialize_triples(triples, fmt)

    # ------------------------------------------------------------------ backup

    def _whole_dataset(self, what: str) -> str:
        """The Graph Store endpoint that serves and takes the whole dataset (Oxigraph server:
        ``/store`` without a graph): the only dialect a backup knows how to copy."""
        e = self.endpoints
        if e.dialect != "oxigraph" or e.store is None:
            raise UpstreamError(
                f"A {what} of a {e.dialect} store is made with the engine's own tools "
                "(aiod-kg copies Oxigraph servers)."
            )
        return e.store

    def dump_nquads(self, target: Path) -> int:
        """Stream every quad of the store into ``target`` (N-Quads); returns its bytes."""
        path = self._whole_dataset("backup")
        written = 0
        try:
            with (
                self.client.stream(
                    "GET",
                    path,
                    headers={"Accept": "application/n-quads"},
                    auth=self._auth(path),
                    timeout=httpx.Timeout(self.endpoints.timeout, read=None),
                ) as response,
                target.open("wb") as sink,
            ):
                self._check(response, "dump")
                for chunk in response.iter_bytes(1 << 20):
                    sink.write(chunk)
                    written += len(chunk)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"The store ({self.endpoints.base}) did not dump: {exc}") from exc
        return written

    def is_empty(self) -> bool:
        """No quad in any graph, nor in the default graph."""
        data = self._query_json("ASK { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }")
        return not data.get("boolean")

    def load_nquads(self, source: Path) -> None:
        """Add every quad of ``source`` (N-Quads) to the store, streamed."""
        path = self._whole_dataset("restore")

        def chunks() -> Iterator[bytes]:
            with source.open("rb") as stream:
                while chunk := stream.read(1 << 20):
                    yield chunk

        try:
            response = self.client.post(
                path,
                content=chunks(),
                headers={"Content-Type": "application/n-quads"},
                auth=self._auth(path),
                timeout=httpx.Timeout(self.endpoints.timeout, read=None, write=None),
            )
        except httpx.HTTPError as exc:
            raise UpstreamError(f"The store ({self.endpoints.base}) did not load: {exc}") from exc
        self._check(response, "load")

    def close(self) -> None:
        self.client.close()

    # ------------------------------------------------------------------ SPARQL endpoint

    def run_query(
        self,
        query: str,
        accept: str,
        *,
        union: bool,
        default_graphs: Sequence[str] = (),
        named_graphs: Sequence[str] = (),
        timeout: float,
        max_bytes: int,
    ) -> RemoteAnswer:
        """Run a read query on the engine; the answer is cut at ``timeout`` / ``max_bytes``.

        ``union``: the default graph is the union of the named graphs (the engine's own way).
        A form POST works on every engine (Virtuoso hangs on ``application/sparql-query``).
        """
        e = self.endpoints
        params: list[tuple[str, str]] = []
        params += [("default-graph-uri", g) for g in default_graphs]
        params += [("named-graph-uri", g) for g in named_graphs]
        if union and not default_graphs and not named_graphs:
            params += list(e.union_params)
        if e.dialect == "virtuoso":
            # Virtuoso's default graph is already the union of all graphs: leave its own out
            pragmas = [f"DEFINE input:named-graph-exclude <{g}>" for g in VIRTUOSO_SYSTEM_GRAPHS]
            if union and not default_graphs:
                pragmas += [
                    f"DEFINE input:default-graph-exclude <{g}>" for g in VIRTUOSO_SYSTEM_GRAPHS
                ]
            query = "\n".join(pragmas) + "\n" + query
        url = e.query + (
            "?" + "&".join(f"{k}={quote(v, safe='')}" if v else k for k, v in params)
            if params
            else ""
        )
        deadline = time.monotonic() + timeout
        chunks: list[bytes] = []
        size = 0
        try:
            with self.client.stream(
                "POST",
                url,
                data={"query": query},
                headers={"Accept": accept},
                auth=self._auth(e.query),
                timeout=httpx.Timeout(timeout, connect=5.0),
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    first_line = response.text.strip().split("\n", 1)[0][:300]
                    if any(marker in first_line for marker in TIMEOUT_MARKERS):
                        raise QueryTimeout(timeout)
                    raise UpstreamError(
                        f"The store ({e.base}) refused the query: "
                        f"{response.status_code} {first_line}"
                    )
                content_type = response.headers.get("content-type", "")
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise ResultTooLarge(max_bytes)
                    chunks.append(chunk)
                    if time.monotonic() > deadline:
                        raise QueryTimeout(timeout)
        except httpx.TimeoutException as exc:
            raise QueryTimeout(timeout) from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(f"The store ({e.base}) did not answer the query: {exc}") from exc
        body = b"".join(chunks)
        if body.endswith(CANCELLED_MARKER) or CANCELLED_MARKER in body[-200:]:
            raise QueryTimeout(timeout)
        return RemoteAnswer(content_type, body)
