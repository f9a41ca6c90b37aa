"""SPARQL 1.1 queries on the public partition of the store, within limits.

``SparqlService`` is what the ``/sparql`` endpoint and ``aiod-kg query`` call:

* **Dataset**: the default graph is the union of the *public* asset graphs -- the query runs
  on the public partition only (``kg.store.partition``), so ``GRAPH ?g``, ``FROM NAMED``,
  ``DESCRIBE`` and property paths cannot reach a draft. A query's own ``FROM``/``FROM NAMED``
  and the protocol's ``default-graph-uri``/``named-graph-uri`` are honoured within it.
* **Syntax** is checked by Oxigraph's parser before anything runs: errors carry line and
  column. The usual prefixes (``kg.namespaces.PREFIXES``) are predeclared.
* **SERVICE** (and an update's ``LOAD``) to outside hosts is refused unless its IRI starts with
  one of ``AIOD_KG_SPARQL_ALLOWED_SERVICES``; checked before the query touches an engine.
* **Time limit** (``AIOD_KG_SPARQL_TIMEOUT``): on the embedded store a query runs in a forked
  worker that is killed at the deadline (``kg.sparql.workers``); on a remote store the request
  is cut at the deadline (configure the engine's own timeout too, e.g. ``oxigraph serve
  --timeout-s``). Either way the caller gets ``QueryTimeout`` and no worker stays busy.
* **Result cap** (``AIOD_KG_SPARQL_MAX_RESULT_BYTES``): serialisation stops at the cap with
  ``ResultTooLarge``.
* **Formats**: SPARQL JSON, XML, CSV, TSV for SELECT/ASK; Turtle, N-Triples, JSON-LD, RDF/XML
  for CONSTRUCT/DESCRIBE; chosen by ``?format=`` or ``Accept`` (``negotiate``).
"""

from __future__ import annotations

import asyncio
import functools
import io
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Literal, cast
from urllib.parse import urljoin

import pyoxigraph as ox

from kg.errors import (
    CatalogError,
    Forbidden,
    NotAcceptable,
    ParseError,
    QueryTimeout,
    ResultTooLarge,
    UpstreamError,
)
from kg.formats.mediatypes import parse_accept
from kg.model.namespaces import PREFIXES
from kg.settings import Settings
from kg.sparql.depth import check_nesting
from kg.sparql.workers import Outcome, WorkerPool
from kg.store.embedded import EmbeddedStore, GraphStore
from kg.store.partition import PartitionedStore
from kg.store.remote import RemoteStore

Kind = Literal["solutions", "boolean", "graph"]

# --------------------------------------------------------------------------- formats


@dataclass(frozen=True)
class ResultFormat:
    name: str
    media_type: str
    kind: Literal["solutions", "graph"]
    aliases: tuple[str, ...] = ()
    also: tuple[str, ...] = ()  # other media types that select this format

    @property
    def content_type(self) -> str:
        text = self.media_type.startswith("text/") or self.name in ("turtle", "ntriples")
        return f"{self.media_type}; charset=utf-8" if text else self.media_type


SOLUTION_FORMATS: tuple[ResultFormat, ...] = (
    ResultFormat(
        "json",
        "application/sparql-results+json",
        "solutions",
        ("json", "srj"),
        ("application/json",),
    ),
    ResultFormat(
        "xml",
        "application/sparql-results+xml",
        "solutions",
        ("xml", "srx"),
        ("application/xml", "text/xml"),
    ),
    ResultFormat("csv", "text/csv", "solutions", ("csv",)),
    ResultFormat("tsv", "text/tab-separated-values", "solutions", ("tsv",)),
)
GRAPH_FORMATS: tuple[ResultFormat, ...] = (
    ResultFormat(
        "turtle",
        "text/turtle",
        "graph",
        ("turtle", "ttl", "n3"),
        ("application/x-turtle", "text/n3", "text/rdf+n3"),
    ),
    ResultFormat(
        "ntriples",
        "application/n-triples",
        "graph",
        ("ntriples", "nt", "n-triples"),
        ("text/plain",),
    ),
    ResultFormat(
        "jsonld",
        "application/ld+json",
        "graph",
        ("jsonld", "json-ld", "json"),
        ("application/json",),
    ),
    ResultFormat(
        "rdfxml",
        "application/rdf+xml",
        "graph",
        ("rdfxml", "rdf-xml", "rdf", "xml"),
        ("application/xml", "text/xml"),
    ),
)
FORMATS_BY_NAME: dict[str, ResultFormat] = {f.name: f for f in (*SOLUTION_FORMATS, *GRAPH_FORMATS)}
OX_RESULTS = {
    "json": ox.QueryResultsFormat.JSON,
    "xml": ox.QueryResultsFormat.XML,
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
}
OX_RDF = {
    "turtle": ox.RdfFormat.TURTLE,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "jsonld": ox.RdfFormat.JSON_LD,
    "rdfxml": ox.RdfFormat.RDF_XML,
}


def negotiate(kind: Kind, accept: str | None = None, fmt: str | None = None) -> ResultFormat:
    """The answer format for a query of this kind; ``NotAcceptable`` if there is none."""
    family = GRAPH_FORMATS if kind == "graph" else SOLUTION_FORMATS
    offered = ", ".join(f.media_type for f in family)
    if fmt:  # a name or media type; several, comma-separated, are tried in order
        for wanted in (w.split(";")[0].strip().lower() for w in fmt.split(",")):
            for f in family:
                if wanted in f.aliases or wanted == f.media_type or wanted in f.also:
                    return f
        names = ", ".join(f.name for f in family)
        raise NotAcceptable(f"Format {fmt!r} cannot answer this query; one of: {names}.")
    if not accept or not accept.strip():
        return family[0]
    for media, q, _ in parse_accept(accept):
        if q <= 0:
            continue
        if media == "*/*":
            return family[0]
        if media.endswith("/*"):
            major = media[:-1]
            for f in family:
                if f.media_type.startswith(major):
                    return f
            continue
        for f in family:
            if media == f.media_type or media in f.also:
                return f
    raise NotAcceptable(f"Cannot answer this query in {accept!r}; available: {offered}.")


# --------------------------------------------------------------------------- lexical checks

_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
              |'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<var>[?$]\w+)
  | (?P<pname>(?:[^\W\d_][\w\-.]*)?:[\w\-.:%\\]*)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def unescape_codepoints(text: str) -> str:
    """SPARQL's ``\\uXXXX`` escapes apply to the whole query text before parsing (19.2)."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)


@dataclass
class Shape:
    """What a lexical pass over a query or update finds."""

    prefixes: dict[str, str] = field(default_factory=dict)
    has_dataset: bool = False  # FROM / FROM NAMED
    remote: list[str | None] = field(default_factory=list)  # SERVICE / LOAD targets; None: ?var


def scan(text: str, base: str = "") -> Shape:
    """Find PREFIX declarations, FROM clauses and SERVICE/LOAD targets (outside strings)."""
    shape = Shape()
    tokens = [
        (m.lastgroup, m.group())
        for m in _TOKEN.finditer(unescape_codepoints(text))
        if m.lastgroup not in ("ws", "comment")
    ]
    for i, (kind, value) in enumerate(tokens):
        if kind != "word":
            continue
        keyword = value.upper()
        if keyword == "PREFIX" and i + 2 < len(tokens) and tokens[i + 2][0] == "iri":
            shape.prefixes[tokens[i + 1][1].rstrip(":")] = tokens[i + 2][1][1:-1]
        elif keyword == "FROM":
            shape.has_dataset = True
        elif keyword in ("SERVICE", "LOAD"):
            j = i + 1
            if j < len(tokens) and tokens[j][1].upper() == "SILENT":
                j += 1
            target_kind, target = tokens[j] if j < len(tokens) else ("other", "")
            if target_kind == "iri":
                shape.remote.append(urljoin(base, target[1:-1]))
            elif target_kind == "pname":
                prefix, _, local = target.partition(":")
                namespace = shape.prefixes.get(prefix, PREFIXES.get(prefix))
                shape.remote.append(namespace + local if namespace is not None else target)
            else:
                shape.remote.append(None)
    return shape


def allowed_services(settings: Settings) -> tuple[str, ...]:
    return tuple(s.strip() for s in settings.sparql_allowed_services.split(",") if s.strip())


def check_remote_calls(shape: Shape, settings: Settings) -> None:
    allowed = allowed_services(settings)
    for target in shape.remote:
        if "*" in allowed:
            return
        if target is None or not any(target.startswith(prefix) for prefix in allowed):
            shown = target or "a variable"
            raise Forbidden(
                f"SERVICE/LOAD to {shown} is not allowed on this endpoint "
                "(allowed: " + (", ".join(allowed) or "none") + "; "
                "AIOD_KG_SPARQL_ALLOWED_SERVICES)."
            )


_POSITION = re.compile(r"error at (\d+):(\d+)")


def syntax_error(exc: SyntaxError, what: str = "query") -> ParseError:
    message = str(exc)
    match = _POSITION.search(message)
    line, column = (int(match.group(1)), int(match.group(2))) if match else (None, None)
    if len(message) > 300:
        message = message[:300] + " ..."
    return ParseError(f"Invalid SPARQL {what}: {message}", line, column)


# --------------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class Prepared:
    text: str
    kind: Kind
    shape: Shape


@dataclass(frozen=True)
class QueryJob:
    """One query to run, as plain data (it crosses into a worker process)."""

    text: str
    kind: Kind
    format: str  # a name of FORMATS_BY_NAME
    base_iri: str | None
    union: bool  # the default graph is the union of the named graphs
    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()
    max_bytes: int = 64 * 1024 * 1024


@dataclass(frozen=True)
class Answer:
    media_type: str  # Content-Type, with charset where it applies
    body: bytes
    format: str


class CappedBuffer(io.RawIOBase):
    """A bytes sink that refuses to grow past ``limit`` (the serialiser then stops)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0
        self.exceeded = False

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        size = len(data)
        if self.size + size > self.limit:
            self.exceeded = True
            raise OSError("result size limit reached")
        self.parts.append(bytes(data))
        self.size += size
        return size

    def getvalue(self) -> bytes:
        return b"".join(self.parts)


def serialize_result(result: object, fmt: ResultFormat, max_bytes: int) -> bytes:
    """Serialise pyoxigraph query results in ``fmt``, at most ``max_bytes``."""
    buffer = CappedBuffer(max_bytes)
    sink = cast(IO[bytes], buffer)
    try:
        if isinstance(result, ox.QueryTriples):
            if fmt.name == "ntriples":
                result.serialize(sink, format=ox.RdfFormat.N_TRIPLES)
            else:
                ox.serialize(result, sink, OX_RDF[fmt.name], prefixes=PREFIXES)
        elif isinstance(result, ox.QuerySolutions | ox.QueryBoolean):
            result.serialize(sink, format=OX_RESULTS[fmt.name])
        else:  # pragma: no cover - pyoxigraph returns one of the three
            raise TypeError(f"unexpected result {type(result).__name__}")
    except OSError:
        if buffer.exceeded:
            raise ResultTooLarge(max_bytes) from None
        raise
    return buffer.getvalue()


def run_embedded(store: ox.Store, job: QueryJob) -> Answer:
    """Evaluate a prepared job on a pyoxigraph store (in a worker or a thread)."""
    options: dict[str, object] = {"base_iri": job.base_iri, "prefixes": PREFIXES}
    if job.default_graphs or job.named_graphs:
        options["default_graph"] = [ox.NamedNode(g) for g in job.default_graphs]
        options["named_graphs"] = [ox.NamedNode(g) for g in job.named_graphs]
    elif job.union:
        options["use_default_graph_as_union"] = True
    try:
        result = store.query(job.text, **options)  # type: ignore[arg-type]
    except SyntaxError as exc:
        raise syntax_error(exc) from None
    fmt = FORMATS_BY_NAME[job.format]
    return Answer(fmt.content_type, serialize_result(result, fmt, job.max_bytes), fmt.name)


def convert_remote(body: bytes, content_type: str, job: QueryJob) -> bytes:
    """Re-serialise an engine's answer (SPARQL JSON or N-Triples) in the requested format."""
    fmt = FORMATS_BY_NAME[job.format]
    media = content_type.split(";")[0].strip().lower()
    try:
        if job.kind == "graph":
            source = {
                "text/turtle": ox.RdfFormat.TURTLE,
                "application/rdf+xml": ox.RdfFormat.RDF_XML,
            }.get(media, ox.RdfFormat.N_TRIPLES)
            triples = (q.triple for q in ox.parse(body, format=source))
            buffer = CappedBuffer(job.max_bytes)
            try:
                ox.serialize(
                    triples,
                    cast(IO[bytes], buffer),
                    OX_RDF[fmt.name],
                    prefixes=PREFIXES if fmt.name != "ntriples" else None,
                )
            except OSError:
                if buffer.exceeded:
                    raise ResultTooLarge(job.max_bytes) from None
                raise
            return buffer.getvalue()
        source_format = ox.QueryResultsFormat.from_media_type(media) or ox.QueryResultsFormat.JSON
        parsed = ox.parse_query_results(body, format=source_format)
        return serialize_result(parsed, fmt, job.max_bytes)
    except (SyntaxError, ValueError) as exc:
        raise UpstreamError(f"The store sent an answer that could not be read: {exc}") from exc


# --------------------------------------------------------------------------- the service


class SparqlService:
    """Run SPARQL on one partition of a ``PartitionedStore`` (public unless told otherwise)."""

    def __init__(
        self,
        store: PartitionedStore,
        settings: Settings,
        partition: Literal["public", "private"] = "public",
    ) -> None:
        self.store = store
        self.settings = settings
        self.target: GraphStore = store.public if partition == "public" else store.private
        self.base_iri = settings.base + "/"
        self.timeout = settings.sparql_timeout
        self.max_bytes = settings.sparql_max_result_bytes
        if isinstance(self.target, RemoteStore):
            self.mode = "remote"
        elif settings.sparql_isolation == "process" and hasattr(os, "fork"):
            self.mode = "process"
        else:
            self.mode = "thread"
        self._pool: WorkerPool | None = None
        self._pool_lock = threading.Lock()
        self._parser = ox.Store()  # empty: parses queries without touching any data
        store.on_close(self.close)

    # ------------------------------------------------------------------ preparation

    def prepare(self, text: str) -> Prepared:
        """Check syntax and policy; find the query's kind. Raises ParseError / Forbidden."""
        check_nesting(text)  # deep nesting crashes pyoxigraph's parser (kg/sparql/depth.py)
        shape = scan(text, self.base_iri)
        check_remote_calls(shape, self.settings)  # before the text reaches any engine
        try:
            probe = self._parser.query(text, base_iri=self.base_iri, prefixes=PREFIXES)
        except SyntaxError as exc:
            raise syntax_error(exc) from None
        kind: Kind
        if isinstance(probe, ox.QueryTriples):
            kind = "graph"
        elif isinstance(probe, ox.QueryBoolean):
            kind = "boolean"
        else:
            kind = "solutions"
        return Prepared(text, kind, shape)

    def job(
        self,
        prepared: Prepared,
        fmt: ResultFormat,
        default_graphs: Sequence[str] = (),
        named_graphs: Sequence[str] = (),
    ) -> QueryJob:
        return QueryJob(
            text=prepared.text,
            kind=prepared.kind,
            format=fmt.name,
            base_iri=self.base_iri,
            union=not prepared.shape.has_dataset,
            default_graphs=tuple(default_graphs),
            named_graphs=tuple(named_graphs),
            max_bytes=self.max_bytes,
        )

    # ------------------------------------------------------------------ execution

    def query(
        self,
        text: str,
        *,
        accept: str | None = None,
        fmt: str | None = None,
        default_graphs: Sequence[str] = (),
        named_graphs: Sequence[str] = (),
    ) -> Answer:
        """Prepare, negotiate and run one query (blocking: call it from a worker thread)."""
        prepared = self.prepare(text)
        chosen = negotiate(prepared.kind, accept, fmt)
        return self.run(self.job(prepared, chosen, default_graphs, named_graphs))

    def run(self, job: QueryJob) -> Answer:
        if self.mode == "remote":
            return self._run_remote(job)
        if self.mode == "process":
            return self._run_process(job)
        return self._run_thread(job)

    def _embedded(self) -> ox.Store:
        assert isinstance(self.target, EmbeddedStore)
        return self.target.store

    async def query_async(
        self,
        text: str,
        *,
        accept: str | None = None,
        fmt: str | None = None,
        default_graphs: Sequence[str] = (),
        named_graphs: Sequence[str] = (),
    ) -> Answer:
        """``query`` for an event loop: in process mode the worker's answer is awaited on the
        loop; everything slow (remote engines, thread mode, huge texts) goes to a thread."""
        loop = asyncio.get_running_loop()
        if self.mode != "process" or len(text) > 20_000:
            return await loop.run_in_executor(
                None,
                functools.partial(
                    self.query,
                    text,
                    accept=accept,
                    fmt=fmt,
                    default_graphs=default_graphs,
                    named_graphs=named_graphs,
                ),
            )
        prepared = self.prepare(text)
        job = self.job(
            prepared, negotiate(prepared.kind, accept, fmt), default_graphs, named_graphs
        )
        return self._answer(await self._workers().run_async(job, self.timeout), job)

    def _run_process(self, job: QueryJob) -> Answer:
        return self._answer(self._workers().run(job, self.timeout), job)

    def _answer(self, outcome: Outcome, job: QueryJob) -> Answer:
        if outcome.ok:
            return Answer(outcome.media_type, outcome.body, job.format)
        if outcome.kind == "too_large":
            raise ResultTooLarge(self.max_bytes)
        error = CatalogError(outcome.detail)
        error.status = outcome.status
        if outcome.status == 400 and isinstance(outcome.detail, dict):
            raise ParseError(
                str(outcome.detail.get("message")),
                outcome.detail.get("line"),
                outcome.detail.get("column"),
            )
        raise error

    def _workers(self) -> WorkerPool:
        with self._pool_lock:
            if self._pool is None:
                store = self._embedded()

                def target(job: QueryJob) -> Outcome:
                    answer = run_embedded(store, job)
                    return Outcome(True, answer.media_type, answer.body)

                def probe() -> None:
                    bool(store.query("ASK { GRAPH ?g { ?s ?p ?o } }"))

                self._pool = WorkerPool(
                    target,
                    size=self.settings.sparql_workers,
                    version=lambda: self.store.version,
                    fork_lock=self.store.lock,
                    probe=probe,
                )
            return self._pool

    def _run_thread(self, job: QueryJob) -> Answer:
        """In-process: the caller gets ``QueryTimeout`` at the deadline, but the evaluation
        itself cannot be stopped (pyoxigraph has no cancellation)."""
        store = self._embedded()
        box: dict[str, object] = {}

        def work() -> None:
            try:
                box["answer"] = run_embedded(store, job)
            except BaseException as exc:
                # drop the frames here: pyoxigraph results must be freed on their own thread
                chained: BaseException | None = exc
                while chained is not None:
                    chained.__traceback__ = None
                    chained = chained.__context__
                box["error"] = exc

        thread = threading.Thread(target=work, name="sparql-query", daemon=True)
        thread.start()
        thread.join(self.timeout)
        if thread.is_alive():
            raise QueryTimeout(self.timeout)
        if "error" in box:
            raise box["error"]  # type: ignore[misc]
        answer = box["answer"]
        assert isinstance(answer, Answer)
        return answer

    def _run_remote(self, job: QueryJob) -> Answer:
        assert isinstance(self.target, RemoteStore)
        fmt = FORMATS_BY_NAME[job.format]
        native = self.target.endpoints.dialect == "oxigraph"
        if native:
            accept = fmt.media_type
        elif job.kind == "graph":
            accept = "application/n-triples"
        else:
            accept = "application/sparql-results+json"
        text = self.remote_text(job.text)
        answer = self.target.run_query(
            text,
            accept,
            union=job.union,
            default_graphs=job.default_graphs,
            named_graphs=job.named_graphs,
            timeout=self.timeout,
            max_bytes=self.max_bytes,
        )
        media = answer.content_type.split(";")[0].strip().lower()
        if media == fmt.media_type:
            return Answer(fmt.content_type, answer.body, fmt.name)
        return Answer(fmt.content_type, convert_remote(answer.body, media, job), fmt.name)

    def remote_text(self, text: str) -> str:
        """The query text for another engine: our BASE and predeclared prefixes made explicit."""
        declared = scan(text).prefixes
        lines = [f"BASE <{self.base_iri}>"]
        lines += [f"PREFIX {p}: <{ns}>" for p, ns in PREFIXES.items() if p not in declared]
        return "\n".join(lines) + "\n" + text

    # ------------------------------------------------------------------ updates

    def update(self, text: str) -> None:
        """Run a SPARQL Update on the partition (admin only; bypasses validation and the index:
        run ``aiod-kg rebuild-index`` after changing assets this way)."""
        check_nesting(text)
        shape = scan(text, self.base_iri)
        check_remote_calls(shape, self.settings)
        try:
            ox.Store().update(text, base_iri=self.base_iri, prefixes=PREFIXES)  # syntax check
        except SyntaxError as exc:
            raise syntax_error(exc, "update") from None
        with self.store.lock:
            if isinstance(self.target, RemoteStore):
                self.target.update(self.remote_text(text))
            else:
                self._embedded().update(text, base_iri=self.base_iri, prefixes=PREFIXES)
            self.store.version += 1

    # ------------------------------------------------------------------ life cycle

    @property
    def workers(self) -> list[int]:
        """Process ids of the live query workers (process mode)."""
        return self._pool.workers if self._pool is not None else []

    def close(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()


# --------------------------------------------------------------------------- description

SD = "http://www.w3.org/ns/sparql-service-description#"
FORMATS_NS = "http://www.w3.org/ns/formats/"
FORMAT_IRIS = {
    "json": "SPARQL_Results_JSON",
    "xml": "SPARQL_Results_XML",
    "csv": "SPARQL_Results_CSV",
    "tsv": "SPARQL_Results_TSV",
    "turtle": "Turtle",
    "ntriples": "N-Triples",
    "jsonld": "JSON-LD",
    "rdfxml": "RDF_XML",
}


def service_description(endpoint: str, settings: Settings) -> list[ox.Triple]:
    """A SPARQL 1.1 Service Description of the endpoint."""
    rdf_type = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    service = ox.NamedNode(endpoint)
    dataset, default_graph = ox.BlankNode("dataset"), ox.BlankNode("defaultGraph")

    def sd(local: str) -> ox.NamedNode:
        return ox.NamedNode(SD + local)

    triples = [
        ox.Triple(service, rdf_type, sd("Service")),
        ox.Triple(service, sd("endpoint"), service),
        ox.Triple(service, sd("supportedLanguage"), sd("SPARQL11Query")),
        ox.Triple(service, sd("supportedLanguage"), sd("SPARQL11Update")),
        ox.Triple(service, sd("feature"), sd("UnionDefaultGraph")),
        ox.Triple(service, sd("feature"), sd("DereferencesURIs")),
        ox.Triple(
            service,
            sd("defaultEntailmentRegime"),
            ox.NamedNode("http://www.w3.org/ns/entailment/Simple"),
        ),
        ox.Triple(service, sd("defaultDataset"), dataset),
        ox.Triple(dataset, rdf_type, sd("Dataset")),
        ox.Triple(dataset, sd("defaultGraph"), default_graph),
        ox.Triple(default_graph, rdf_type, sd("Graph")),
        ox.Triple(
            service,
            ox.NamedNode("http://purl.org/dc/terms/description"),
            ox.Literal(
                "The default graph is the union of the public asset graphs; every asset is also a "
                f"named graph (its IRI). Time limit {settings.sparql_timeout:g} s, results up to "
                f"{settings.sparql_max_result_bytes} bytes. Updates need admin rights."
            ),
        ),
    ]
    if allowed_services(settings):
        triples.append(ox.Triple(service, sd("feature"), sd("BasicFederatedQuery")))
    for name in FORMAT_IRIS.values():
        triples.append(ox.Triple(service, sd("resultFormat"), ox.NamedNode(FORMATS_NS + name)))
    return triples


def serialize_description(triples: Sequence[ox.Triple], fmt: ResultFormat) -> bytes:
    prefixes = {"sd": SD, "formats": FORMATS_NS, "dct": "http://purl.org/dc/terms/"}
    data = ox.serialize(
        triples, None, OX_RDF[fmt.name], prefixes=prefixes if fmt.name != "ntriples" else None
    )
    assert isinstance(data, bytes)
    return data
