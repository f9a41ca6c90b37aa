"""The suggestion book: each asset's suggested terms (``kg.enrichment.suggester``) in a database
(``Database``; kg.derived gives it the link index's, SQLite or PostgreSQL), the owners'
decisions on them, and the derived graph ``{base}/suggestions/{identifier}``.

The graph is not the asset's graph and follows the asset's visibility: it is written to the
partition the asset is in (a draft's suggestions to the private store, as invisible as the
draft) and recomputed whenever the asset changes. Each suggestion is an ``rdf:Statement``
(subject the asset, predicate the field's property, object the term) with its similarity
(``schema:value``) and provenance (``prov:wasGeneratedBy`` ``{base}/enrichment``,
``prov:generatedAtTime``). Accepted and rejected suggestions are not suggested again; the
decisions (table ``suggestion_decisions``) are the only state that is not derived.

The model costs milliseconds per asset where links and quality cost microseconds
(bench/linking.py), so once ``start`` is called the book works in its own thread, a batch of
queued assets per encode: the linker's thread hands it changes without waiting, and
``flush`` waits until it has caught up."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from kg.db.database import Connection
from kg.enrichment.suggester import Suggester, Suggestion
from kg.model.fields import ASSET_TYPES
from kg.model.namespaces import PROV, RDF, RDF_TYPE, SCHEMA, XSD
from kg.model.rdf_mapping import IRI, Lit, Triple
from kg.store.partition import is_public_status

if TYPE_CHECKING:
    from kg.catalog import Catalog

JSON = dict[str, Any]
log = logging.getLogger("kg.enrichment")
BATCH = 32  # queued assets encoded together
TABLES = """
CREATE TABLE IF NOT EXISTS suggestion_assets (identifier TEXT PRIMARY KEY, type TEXT,
  public INTEGER, modified TEXT);
CREATE TABLE IF NOT EXISTS suggestions (identifier TEXT, field TEXT, term TEXT, score REAL,
  PRIMARY KEY (identifier, field, term));
CREATE TABLE IF NOT EXISTS suggestion_decisions (identifier TEXT, field TEXT, term TEXT,
  status TEXT, decided_by TEXT, decided_at TEXT, PRIMARY KEY (identifier, field, term));
"""


class Database(Protocol):
    """The database the book keeps its tables in."""

    def create(self, ddl: str) -> None: ...

    def transaction(self) -> AbstractContextManager[Connection]: ...

    def query(self, sql: str, params: Iterable[object] = ()) -> list[tuple[object, ...]]: ...


class SuggestionBook:
    """Follows every asset, public or not (``everything``: kg.linking's linker hands it drafts
    too)."""

    everything = True

    def __init__(
        self,
        index: Database,
        base_url: str,
        catalog: Catalog | None = None,
        suggester: Suggester | None = None,
    ) -> None:
        self.index = index
        self.base_url = base_url
        self.catalog = catalog
        self.suggester = suggester or Suggester()
        self._queue: queue.Queue[tuple[str, str, JSON | None] | None] = queue.Queue()
        self._idle = threading.Condition()
        self._pending = 0
        self._worker: threading.Thread | None = None
        index.create(TABLES)

    def graph_iri(self, identifier: str) -> str:
        return f"{self.base_url}/suggestions/{identifier}"

    def activity(self) -> str:
        return f"{self.base_url}/enrichment"

    # ------------------------------------------------------------------ the worker

    def start(self) -> None:
        """Work in a thread from now on (``update`` / ``remove`` queue and return)."""
        if self._worker is None:
            self._worker = threading.Thread(target=self._run, name="enrichment", daemon=True)
            self._worker.start()

    def _put(self, item: tuple[str, str, JSON | None]) -> None:
        with self._idle:
            self._pending += 1
        self._queue.put(item)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(item)
            try:
                self._apply(batch)
            except Exception:
                log.exception("enrichment failed")
            finally:
                with self._idle:
                    self._pending -= len(batch)
                    self._idle.notify_all()

    def _apply(self, batch: list[tuple[str, str, JSON | None]]) -> None:
        updates = [(c, d) for c, _, d in batch if d is not None]
        found = iter(self.suggester.suggest_many([(ASSET_TYPES[c], d) for c, d in updates]))
        for collection, identifier, data in batch:
            if data is None:
                self._remove(identifier)
            else:
                self._store(collection, identifier, data, next(found))

    def flush(self, timeout: float = 120.0) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._pending <= 0, timeout)

    def close(self) -> None:
        """Stop the thread (what is queued is dropped: the linker's reconcile catches up)."""
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=30)
            self._worker = None

    # ------------------------------------------------------------------ writes

    def update(self, collection: str, identifier: str, data: JSON) -> list[Suggestion] | None:
        """Suggest terms for one asset, keep them and rewrite its graph in its partition
        (queued when the thread runs: then ``None``)."""
        if self._worker is not None:
            self._put((collection, identifier, data))
            return None
        return self._store(
            collection, identifier, data, self.suggester.suggest(ASSET_TYPES[collection], data)
        )

    def _store(
        self, collection: str, identifier: str, data: JSON, suggested: list[Suggestion]
    ) -> list[Suggestion]:
        decided = {(f, t) for f, t, _ in self._decisions(identifier)}
        found = [s for s in suggested if (s.field, s.term) not in decided]
        entry = data.get("aiod_entry") or {}
        public = is_public_status(entry.get("status", "published"))
        modified = str(entry.get("date_modified") or "")
        with self.index.transaction() as db:
            db.execute("DELETE FROM suggestions WHERE identifier = ?", (identifier,))
            db.execute(
                "INSERT INTO suggestion_assets (identifier, type, public, modified)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (identifier) DO UPDATE SET"
                " type = excluded.type, public = excluded.public, modified = excluded.modified",
                (identifier, collection, int(public), modified),
            )
            db.executemany(
                "INSERT INTO suggestions (identifier, field, term, score) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                [(identifier, s.field, s.term, s.score) for s in found],
            )
        self.write(identifier)
        return found

    def follow(self, changes: Sequence[tuple[str, str, JSON | None]]) -> None:
        """Follow a batch (``(collection, identifier, data)``; data None: forget the asset):
        queued when the thread runs, else suggested in one encode."""
        if self._worker is not None:
            for change in changes:
                self._put(change)
        elif changes:
            self._apply(list(changes))

    def remove(self, identifier: str) -> None:
        if self._worker is not None:
            self._put(("", identifier, None))
        else:
            self._remove(identifier)

    def _remove(self, identifier: str) -> None:
        with self.index.transaction() as db:
            db.execute("DELETE FROM suggestions WHERE identifier = ?", (identifier,))
            db.execute("DELETE FROM suggestion_assets WHERE identifier = ?", (identifier,))
        if self.catalog is not None:
            self.catalog.store.delete_graphs([self.graph_iri(identifier)])

    def clear(self) -> None:
        """Forget what is derived (the decisions stay)."""
        with self.index.transaction() as db:
            db.execute("DELETE FROM suggestions")
            db.execute("DELETE FROM suggestion_assets")

    def decide(self, identifier: str, field: str, term: str, status: str, by: str, at: str) -> None:
        """Record an owner's decision; the suggestion leaves the list and the graph."""
        with self.index.transaction() as db:
            db.execute(
                "INSERT INTO suggestion_decisions (identifier, field, term, status, decided_by,"
                " decided_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (identifier, field, term)"
                " DO UPDATE SET status = excluded.status, decided_by = excluded.decided_by,"
                " decided_at = excluded.decided_at",
                (identifier, field, term, status, by, at),
            )
            db.execute(
                "DELETE FROM suggestions WHERE identifier = ? AND field = ? AND term = ?",
                (identifier, field, term),
            )
        self.write(identifier)

    def write(self, identifier: str) -> None:
        """Replace (or drop) the asset's suggestion graph, in the asset's partition."""
        if self.catalog is None:
            return
        rows = self.index.query(
            "SELECT type, public, modified FROM suggestion_assets WHERE identifier = ?",
            [identifier],
        )
        triples = self.triples(identifier) if rows else []
        graph = self.graph_iri(identifier)
        if not triples:
            self.catalog.store.delete_graphs([graph])
            return
        private = () if int(str(rows[0][1])) else (graph,)
        self.catalog.store.replace_graphs({graph: triples}, private)

    def triples(self, identifier: str) -> list[Triple]:
        rows = self.index.query(
            "SELECT type, modified FROM suggestion_assets WHERE identifier = ?", [identifier]
        )
        found = self.suggestions(identifier)
        if not rows or not found:
            return []
        collection, modified = str(rows[0][0]), str(rows[0][1])
        asset = ASSET_TYPES[collection]
        iri = f"{self.base_url}/{collection}/{identifier}"
        graph = self.graph_iri(identifier)
        activity = IRI(self.activity())
        out: list[Triple] = [(graph, PROV + "wasGeneratedBy", activity)]
        for n, s in enumerate(found):
            node = f"{graph}#s{n}"
            out += [
                (node, RDF_TYPE, IRI(RDF + "Statement")),
                (node, RDF + "subject", IRI(iri)),
                (node, RDF + "predicate", IRI(asset.by_name[s["field"]].iri)),
                (node, RDF + "object", Lit(s["term"], XSD + "string")),
                (node, SCHEMA + "value", Lit(f"{s['score']:.4f}", XSD + "decimal")),
                (node, PROV + "wasGeneratedBy", activity),
            ]
            if modified:
                out.append((node, PROV + "generatedAtTime", Lit(modified, XSD + "dateTime")))
        return out

    # ------------------------------------------------------------------ reads

    def modified(self) -> dict[str, str]:
        rows = self.index.query("SELECT identifier, modified FROM suggestion_assets")
        return {str(i): str(m) for i, m in rows}

    def suggestions(self, identifier: str) -> list[JSON]:
        """The open suggestions of an asset (not decided), best first per field."""
        rows = self.index.query(
            "SELECT field, term, score FROM suggestions WHERE identifier = ? "
            "ORDER BY field, score DESC, term",
            [identifier],
        )
        return [{"field": str(f), "term": str(t), "score": float(str(s))} for f, t, s in rows]

    def is_suggested(self, identifier: str, field: str, term: str) -> bool:
        return bool(
            self.index.query(
                "SELECT 1 FROM suggestions WHERE identifier = ? AND field = ? AND term = ?",
                [identifier, field, term],
            )
        )

    def _decisions(self, identifier: str) -> list[tuple[str, str, str]]:
        rows = self.index.query(
            "SELECT field, term, status FROM suggestion_decisions WHERE identifier = ?",
            [identifier],
        )
        return [(str(f), str(t), str(s)) for f, t, s in rows]

    def decisions(self, identifier: str) -> list[JSON]:
        rows = self.index.query(
            "SELECT field, term, status, decided_by, decided_at FROM suggestion_decisions "
            "WHERE identifier = ? ORDER BY decided_at, field, term",
            [identifier],
        )
        return [
            {"field": f, "term": t, "status": s, "decided_by": b, "decided_at": a}
            for f, t, s, b, a in rows
        ]
