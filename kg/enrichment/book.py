"""The suggestion book: each asset's suggested terms (``kg.enrichment.suggester``) in an SQLite
database (``Database``; kg.derived gives it the link index's ``links.sqlite``), the owners'
decisions on them, and the derived graph ``{base}/suggestions/{identifier}``.

The graph is not the asset's graph and follows the asset's visibility: it is written to the
partition the asset is in (a draft's suggestions to the private store, as invisible as the
draft) and recomputed whenever the asset changes. Each suggestion is an ``rdf:Statement``
(subject the asset, predicate the field's property, object the term) with its similarity
(``schema:value``) and provenance (``prov:wasGeneratedBy`` ``{base}/enrichment``,
``prov:generatedAtTime``). Accepted and rejected suggestions are not suggested again; the
decisions (table ``suggestion_decisions``) are the only state that is not derived."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from kg.enrichment.suggester import Suggester, Suggestion
from kg.model.fields import ASSET_TYPES
from kg.model.namespaces import PROV, RDF, RDF_TYPE, SCHEMA, XSD
from kg.model.rdf_mapping import IRI, Lit, Triple
from kg.store.partition import is_public_status

if TYPE_CHECKING:
    from kg.catalog import Catalog

JSON = dict[str, Any]
TABLES = """
CREATE TABLE IF NOT EXISTS suggestion_assets (identifier TEXT PRIMARY KEY, type TEXT,
  public INTEGER, modified TEXT);
CREATE TABLE IF NOT EXISTS suggestions (identifier TEXT, field TEXT, term TEXT, score REAL,
  PRIMARY KEY (identifier, field, term));
CREATE TABLE IF NOT EXISTS suggestion_decisions (identifier TEXT, field TEXT, term TEXT,
  status TEXT, decided_by TEXT, decided_at TEXT, PRIMARY KEY (identifier, field, term));
"""


class Database(Protocol):
    """The SQLite the book keeps its tables in."""

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...

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
        with index.transaction() as db:
            db.executescript(TABLES)

    def graph_iri(self, identifier: str) -> str:
        return f"{self.base_url}/suggestions/{identifier}"

    def activity(self) -> str:
        return f"{self.base_url}/enrichment"

    # ------------------------------------------------------------------ writes

    def update(self, collection: str, identifier: str, data: JSON) -> list[Suggestion]:
        """Suggest terms for one asset, keep them and rewrite its graph in its partition."""
        asset = ASSET_TYPES[collection]
        decided = {(f, t) for f, t, _ in self._decisions(identifier)}
        found = [s for s in self.suggester.suggest(asset, data) if (s.field, s.term) not in decided]
        entry = data.get("aiod_entry") or {}
        public = is_public_status(entry.get("status", "published"))
        modified = str(entry.get("date_modified") or "")
        with self.index.transaction() as db:
            db.execute("DELETE FROM suggestions WHERE identifier = ?", (identifier,))
            db.execute(
                "INSERT OR REPLACE INTO suggestion_assets VALUES (?, ?, ?, ?)",
                (identifier, collection, int(public), modified),
            )
            db.executemany(
                "INSERT OR IGNORE INTO suggestions VALUES (?, ?, ?, ?)",
                ((identifier, s.field, s.term, s.score) for s in found),
            )
        self.write(identifier)
        return found

    def remove(self, identifier: str) -> None:
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
                "INSERT OR REPLACE INTO suggestion_decisions VALUES (?, ?, ?, ?, ?, ?)",
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
