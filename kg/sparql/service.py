"""SPARQL 1.1 queries on the public partition of the store, within limits.

``SparqlService`` is what the ``/sparql`` endpoint and ``aiod-kg query`` call:

* **Nothing untrusted is parsed or evaluated in the server process.** A query is a job for a
  killable, memory-capped worker (``kg.sparql.workers``, forked from this process) that checks
  the nesting (``kg.sparql.depth``), parses the query and decides the policy on its algebra
  (``kg.sparql.policy``), negotiates the format (``kg.sparql.formats``) and evaluates it. A
  crash or a runaway costs only that request; the event loop only waits on a pipe. Where the
  engine and the sandbox enforce the whole policy (``engine_enforced``), the worker runs the
  query without the rdflib check.
* **Dataset**: the default graph is the union of the *public* asset graphs -- the query runs
  on the public partition only (``kg.store.partition``), so ``GRAPH ?g``, ``FROM NAMED``,
  ``DESCRIBE`` and property paths cannot reach a draft. A query's own ``FROM``/``FROM NAMED``
  and the protocol's ``default-graph-uri``/``named-graph-uri`` are honoured within it.
* **Policy**: read-only; SERVICE (and an update's ``LOAD``) only to IRIs starting with one of
  ``AIOD_KG_SPARQL_ALLOWED_SERVICES``. Without allowed services the workers cannot open network
  sockets at all (seccomp).
* **Time limit** (``AIOD_KG_SPARQL_TIMEOUT``) for parsing and every query form: the worker is
  killed at the deadline. On a remote store (``sparql+http://``) the check runs in such a
  worker too, then the normalised text is forwarded and the request cut at the deadline
  (configure the engine's own timeout too, e.g. ``oxigraph serve --timeout-s``).
* **Result cap** (``AIOD_KG_SPARQL_MAX_RESULT_BYTES``): ``ResultTooLarge``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import pyoxigraph as ox

from kg.errors import (
    CatalogError,
    Forbidden,
    NotAcceptable,
    ParseError,
    QueryTimeout,
    ResultTooLarge,
)
from kg.model.namespaces import PREFIXES
from kg.settings import Settings
from kg.sparql.decisions import DecisionCache, Key, key_of
from kg.sparql.depth import check_nesting
from kg.sparql.formats import (
    FORMATS_BY_NAME,
    Answer,
    Kind,
    ResultFormat,
    convert_remote,
    negotiate,
    serialize_result,
)
from kg.sparql.policy import (
    Decision,
    Unreadable,
    allowed_services,
    check_query,
    check_update,
    normalise,
)
from kg.sparql.workers import Outcome, WorkerPool, confine, network_sandbox_available
from kg.store.embedded import EmbeddedStore, GraphStore
from kg.store.partition import PartitionedStore
from kg.store.remote import RemoteStore

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
class QueryJob:
    """One request, as plain data (it crosses into a worker process)."""

    text: str  # as received: untrusted
    base_iri: str
    allowed: tuple[str, ...] = ()  # SERVICE/LOAD prefixes
    accept: str | None = None
    format: str | None = None  # ?format=
    default_graphs: tuple[str, ...] = ()
    named_graphs: tuple[str, ...] = ()
    max_bytes: int = 64 * 1024 * 1024
    evaluate: bool = True  # False: check only (a remote store runs it; an update)
    update: bool = False
    #: the decision a worker already made for this exact key (``kg.sparql.decisions``): the
    #: worker skips the nesting check and rdflib and runs ``decision.text``
    decision: Decision | None = None

    def cache_key(self) -> Key | None:
        return key_of(self.text, self.base_iri, self.allowed, self.update)


@dataclass(frozen=True)
class Checked:
    """A check-only job's answer: the policy's decision and the negotiated format."""

    decision: Decision
    format: str  # "" for an update


def _kind_of(result: object) -> Kind:
    if isinstance(result, ox.QueryTriples):
        return "graph"
    if isinstance(result, ox.QueryBoolean):
        return "boolean"
    return "solutions"


def _oxigraph_message(job: QueryJob, unreadable: Unreadable, sandboxed: bool) -> ParseError:
    """When rdflib cannot read a text, Oxigraph's syntax error (line, column) if it has one --
    asked on an empty store, only where the network is denied; else rdflib's own message."""
    if sandboxed:
        try:
            text = normalise(job.text)
            empty = ox.Store()
            if job.update:
                empty.update(text, base_iri=job.base_iri, prefixes=PREFIXES)
            else:
                empty.query(text, base_iri=job.base_iri, prefixes=PREFIXES)
        except SyntaxError as exc:
            return syntax_error(exc, "update" if job.update else "query")
        except (CatalogError, OSError, RuntimeError, ValueError):
            pass
    detail = unreadable.detail
    message = detail.get("message") if isinstance(detail, dict) else str(detail)
    return ParseError(
        f"{message} (the query could not be checked, so it is refused)",
        detail.get("line") if isinstance(detail, dict) else None,
        detail.get("column") if isinstance(detail, dict) else None,
    )


# Texts the engine-enforced path leaves to the checked one: a codepoint escape (19.2: it could
# spell a keyword), or the letters of SERVICE or FROM anywhere (a clause, or only a name or a
# literal). Without them the text has no SERVICE and no dataset of its own: SPARQL keywords
# are ASCII letters with nothing inside them. This routes texts; it decides nothing: the
# checked path parses the rest, and the sandbox denies the network either way.
_CHECK_FIRST = re.compile(r"\\[uU]|service|from", re.IGNORECASE)


def _graph_names(iris: Sequence[str], parameter: str) -> list[ox.NamedNode]:
    """The protocol's dataset IRIs as terms; a value that is no absolute IRI is the caller's
    error (400), not the server's."""
    try:
        return [ox.NamedNode(iri) for iri in iris]
    except ValueError as exc:
        raise ParseError(f"{parameter} must be an absolute IRI: {exc}") from None


def engine_enforced(store: ox.Store | None, job: QueryJob, sandboxed: bool) -> bool:
    """Whether the engine and the sandbox enforce the whole policy for this job, so the worker
    need not parse it with rdflib first (1.5-4 ms of CPU per new text): an embedded store's
    ``query`` cannot write (an update is a syntax error there), it runs on the public
    partition only, the text has no SERVICE (``_CHECK_FIRST``), and the worker is denied
    network sockets (seccomp) besides. Only without allowed SERVICE hosts."""
    return (
        store is not None
        and sandboxed
        and job.evaluate
        and not job.update
        and not job.allowed
        and job.decision is None
        and _CHECK_FIRST.search(job.text) is None
    )


def _execute_enforced(store: ox.Store, job: QueryJob) -> Outcome:
    """Evaluate a job whose policy the engine and the sandbox enforce (``engine_enforced``)."""
    check_nesting(job.text)  # pyoxigraph's parser recurses per nesting level
    options: dict[str, object] = {"base_iri": job.base_iri, "prefixes": PREFIXES}
    if job.default_graphs or job.named_graphs:
        options["default_graph"] = _graph_names(job.default_graphs, "default-graph-uri")
        options["named_graphs"] = _graph_names(job.named_graphs, "named-graph-uri")
    else:  # no FROM in the text (``_CHECK_FIRST``): the default graph is every public graph
        options["use_default_graph_as_union"] = True
    try:
        result = store.query(job.text, **options)  # type: ignore[arg-type]
        fmt = negotiate(_kind_of(result), job.accept, job.format)
        body = serialize_result(result, fmt, job.max_bytes)
    except SyntaxError as exc:
        raise syntax_error(exc) from None
    return Outcome(True, fmt.content_type, body, detail=fmt.name)


def execute(store: ox.Store | None, job: QueryJob, sandboxed: bool = False) -> Outcome:
    """Check, negotiate and (on a store) evaluate one job: the body of a query worker.

    A job that carries the decision made earlier for the same key skips the check; the
    decision made here is sent back (``Outcome.decision``) for the parent to remember. A job
    whose policy the engine and the sandbox enforce is evaluated without the check."""
    if store is not None and engine_enforced(store, job, sandboxed):
        return _execute_enforced(store, job)
    made: Decision | None = None
    if job.decision is not None:
        decision = job.decision
    else:
        decision = made = _decide(job, sandboxed)
    if decision.kind is None:
        return Outcome(True, detail=Checked(decision, ""), decision=made)
    fmt = negotiate(decision.kind, job.accept, job.format)
    if store is None or not job.evaluate:
        return Outcome(True, fmt.content_type, detail=Checked(decision, fmt.name), decision=made)
    options: dict[str, object] = {"base_iri": job.base_iri, "prefixes": PREFIXES}
    if job.default_graphs or job.named_graphs:
        options["default_graph"] = _graph_names(job.default_graphs, "default-graph-uri")
        options["named_graphs"] = _graph_names(job.named_graphs, "named-graph-uri")
    elif not decision.has_dataset:
        options["use_default_graph_as_union"] = True
    try:
        result = store.query(decision.text, **options)  # type: ignore[arg-type]
    except SyntaxError as exc:
        raise syntax_error(exc) from None
    if _kind_of(result) != decision.kind:  # the two parsers disagree: refuse
        raise Forbidden("The query could not be checked (its form is ambiguous); refused.")
    body = serialize_result(result, fmt, job.max_bytes)
    return Outcome(True, fmt.content_type, body, detail=fmt.name, decision=made)


def _decide(job: QueryJob, sandboxed: bool) -> Decision:
    """The policy's decision on the job's text (parsed here, in the worker)."""
    check_nesting(job.text)  # a first guard: pyoxigraph's parser recurses per nesting level
    try:
        if job.update:
            return check_update(job.text, job.base_iri, job.allowed)
        return check_query(job.text, job.base_iri, job.allowed)
    except Unreadable as exc:
        raise _oxigraph_message(job, exc, sandboxed) from None


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
        self.allowed = allowed_services(settings)
        self.forks = settings.sparql_isolation == "process" and hasattr(os, "fork")
        if isinstance(self.target, RemoteStore):
            self.mode = "remote"
        elif self.forks:
            self.mode = "process"
        else:
            self.mode = "thread"
        if self.forks and not self.allowed:
            network_sandbox_available()  # warns once when workers cannot be denied the network
        self._pool: WorkerPool | None = None
        self._pool_lock = threading.Lock()
        self.decisions = DecisionCache()
        store.on_close(self.close)

    # ------------------------------------------------------------------ jobs

    def job(
        self,
        text: str,
        *,
        accept: str | None = None,
        fmt: str | None = None,
        default_graphs: Sequence[str] = (),
        named_graphs: Sequence[str] = (),
        update: bool = False,
    ) -> QueryJob:
        job = QueryJob(
            text=text,
            base_iri=self.base_iri,
            allowed=self.allowed,
            accept=accept,
            format=fmt,
            default_graphs=tuple(default_graphs),
            named_graphs=tuple(named_graphs),
            max_bytes=self.max_bytes,
            evaluate=self.mode != "remote" and not update,
            update=update,
        )
        decision = self.decisions.get(job.cache_key())
        return job if decision is None else dataclasses.replace(job, decision=decision)

    def _remember(self, job: QueryJob, outcome: Outcome) -> Outcome:
        """Keep the decision a worker made for an allowed job (never a refusal's)."""
        if outcome.ok and isinstance(outcome.decision, Decision):
            self.decisions.put(job.cache_key(), outcome.decision)
        return outcome

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
        """Check, negotiate and run one query (blocking: call it from a worker thread)."""
        job = self.job(
            text, accept=accept, fmt=fmt, default_graphs=default_graphs, named_graphs=named_graphs
        )
        outcome = self._dispatch(job)
        if self.mode == "remote":
            return self._run_remote(job, self._checked(outcome))
        return self._answer(outcome, job)

    async def query_async(
        self,
        text: str,
        *,
        accept: str | None = None,
        fmt: str | None = None,
        default_graphs: Sequence[str] = (),
        named_graphs: Sequence[str] = (),
    ) -> Answer:
        """``query`` for an event loop: nothing of the query is parsed here; in process mode
        the worker's answer is awaited on the loop, everything else goes to a thread."""
        call = functools.partial(
            self.query,
            text,
            accept=accept,
            fmt=fmt,
            default_graphs=default_graphs,
            named_graphs=named_graphs,
        )
        if self.mode != "process":
            return await asyncio.get_running_loop().run_in_executor(None, call)
        job = self.job(
            text, accept=accept, fmt=fmt, default_graphs=default_graphs, named_graphs=named_graphs
        )
        outcome = await self._workers().run_async(job, self.timeout)
        return self._answer(self._remember(job, outcome), job)

    def _dispatch(self, job: QueryJob) -> Outcome:
        if self.forks:
            return self._remember(job, self._workers().run(job, self.timeout))
        return self._remember(job, self._run_thread(job))

    def _answer(self, outcome: Outcome, job: QueryJob) -> Answer:
        self._raise(outcome)
        return Answer(outcome.media_type, outcome.body, str(outcome.detail or ""))

    def _checked(self, outcome: Outcome) -> Checked:
        self._raise(outcome)
        assert isinstance(outcome.detail, Checked)
        return outcome.detail

    def _raise(self, outcome: Outcome) -> None:
        if outcome.ok:
            return
        if outcome.kind == "too_large":
            raise ResultTooLarge(self.max_bytes)
        if outcome.status == 400 and isinstance(outcome.detail, dict):
            raise ParseError(
                str(outcome.detail.get("message")),
                outcome.detail.get("line"),
                outcome.detail.get("column"),
            )
        kind = {403: Forbidden, 406: NotAcceptable}.get(outcome.status, CatalogError)
        error = kind(outcome.detail)
        error.status = outcome.status
        raise error

    def _workers(self) -> WorkerPool:
        with self._pool_lock:
            if self._pool is None:
                store = None if self.mode == "remote" else self._embedded()
                memory = self.settings.sparql_worker_memory_bytes
                network = bool(self.allowed)
                state = {"sandboxed": False}

                def setup() -> None:  # in the child, before its first job
                    state["sandboxed"] = confine(memory, network)

                def target(job: QueryJob) -> Outcome:
                    return execute(store, job, state["sandboxed"])

                def probe() -> None:
                    if store is not None:
                        bool(store.query("ASK { GRAPH ?g { ?s ?p ?o } }"))

                version: Callable[[], int] = (
                    (lambda: 0) if store is None else (lambda: self.store.version)
                )
                self._pool = WorkerPool(
                    target,
                    size=self.settings.sparql_workers,
                    version=version,
                    fork_lock=self.store.lock,
                    probe=probe,
                    setup=setup,
                )
            return self._pool

    def _embedded(self) -> ox.Store:
        assert isinstance(self.target, EmbeddedStore)
        return self.target.store

    def _run_thread(self, job: QueryJob) -> Outcome:
        """Where processes cannot fork: in a thread of this process. The caller gets
        ``QueryTimeout`` at the deadline, but the work itself cannot be stopped, and only the
        depth guard stands between a parser crash and the process."""
        store = None if self.mode == "remote" else self._embedded()
        box: dict[str, object] = {}

        def work() -> None:
            try:
                box["outcome"] = execute(store, job)
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
        outcome = box["outcome"]
        assert isinstance(outcome, Outcome)
        return outcome

    def _run_remote(self, job: QueryJob, checked: Checked) -> Answer:
        assert isinstance(self.target, RemoteStore)
        fmt: ResultFormat = FORMATS_BY_NAME[checked.format]
        kind = checked.decision.kind
        assert kind is not None
        native = self.target.endpoints.dialect == "oxigraph"
        if native:
            accept = fmt.media_type
        elif kind == "graph":
            accept = "application/n-triples"
        else:
            accept = "application/sparql-results+json"
        answer = self.target.run_query(
            self.remote_text(checked.decision),
            accept,
            union=not checked.decision.has_dataset,
            default_graphs=job.default_graphs,
            named_graphs=job.named_graphs,
            timeout=self.timeout,
            max_bytes=self.max_bytes,
        )
        media = answer.content_type.split(";")[0].strip().lower()
        if media == fmt.media_type:
            return Answer(fmt.content_type, answer.body, fmt.name)
        body = convert_remote(answer.body, media, kind, fmt, self.max_bytes)
        return Answer(fmt.content_type, body, fmt.name)

    def remote_text(self, decision: Decision) -> str:
        """The checked text for another engine: our BASE and predeclared prefixes explicit."""
        lines = [f"BASE <{self.base_iri}>"]
        lines += [f"PREFIX {p}: <{ns}>" for p, ns in PREFIXES.items() if p not in decision.prefixes]
        return "\n".join(lines) + "\n" + decision.text

    # ------------------------------------------------------------------ updates

    def update(self, text: str) -> None:
        """Run a SPARQL Update on the partition (admin only; bypasses validation and the index:
        run ``aiod-kg rebuild-index`` after changing assets this way). The policy check runs
        in a worker like a query's; the update itself runs here, under the write lock."""
        checked = self._checked(self._dispatch(self.job(text, update=True)))
        decision = checked.decision
        with self.store.lock:
            if isinstance(self.target, RemoteStore):
                self.target.update(self.remote_text(decision))
            else:
                try:
                    self._embedded().update(
                        decision.text, base_iri=self.base_iri, prefixes=PREFIXES
                    )
                except SyntaxError as exc:
                    raise syntax_error(exc, "update") from None
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
