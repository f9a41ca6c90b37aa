"""The quality book: each public asset's assessment (``kg.quality.indicators``) in a database
(``Database``; kg.derived gives it the link index's, SQLite or PostgreSQL): tables ``quality`` and
``quality_problems``, rebuildable from the store like the rest of it; the summaries
``GET /quality`` answers, and the derived graph ``{base}/quality/{identifier}`` in the public
store that records the score with W3C DQV: one ``dqv:QualityMeasurement`` per dimension and one
for the whole, each ``dqv:computedOn`` the asset and ``dqv:isMeasurementOf`` a ``dqv:Metric`` of
``{base}/quality/metrics``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from kg.db.database import Connection
from kg.model.fields import ASSET_TYPES
from kg.model.namespaces import PROV, RDF_TYPE
from kg.model.rdf_mapping import IRI, Lit, Triple
from kg.quality.indicators import BY_KEY, DIMENSIONS, Assessment, assess

if TYPE_CHECKING:
    from kg.catalog import Catalog

DQV = "http://www.w3.org/ns/dqv#"
XSD_DECIMAL = "http://www.w3.org/2001/XMLSchema#decimal"
XSD_DATETIME = "http://www.w3.org/2001/XMLSchema#dateTime"
SCHEMA = """
CREATE TABLE IF NOT EXISTS quality (identifier TEXT PRIMARY KEY, type TEXT, platform TEXT,
  score REAL, points REAL, max_points INTEGER, rating TEXT, dimensions BLOB, results BLOB,
  modified TEXT);
CREATE INDEX IF NOT EXISTS quality_group ON quality (platform, type);
CREATE TABLE IF NOT EXISTS quality_problems (identifier TEXT, indicator TEXT,
  PRIMARY KEY (identifier, indicator));
"""
TOP_PROBLEMS = 10


class Database(Protocol):
    """The database the book keeps its tables in (kg.derived gives it the link index's
    database ``links``: the book does not depend on kg.linking)."""

    def create(self, ddl: str) -> None: ...

    def transaction(self) -> AbstractContextManager[Connection]: ...

    def query(self, sql: str, params: Iterable[object] = ()) -> list[tuple[object, ...]]: ...


class QualityBook:
    def __init__(self, index: Database, base_url: str, catalog: Catalog | None = None) -> None:
        self.index = index
        self.base_url = base_url
        self.catalog = catalog
        index.create(SCHEMA)

    def graph_iri(self, identifier: str) -> str:
        return f"{self.base_url}/quality/{identifier}"

    def metric_iri(self, name: str) -> str:
        return f"{self.base_url}/quality/metrics#{name}"

    # ------------------------------------------------------------------ writes

    def update(self, collection: str, identifier: str, data: dict[str, Any]) -> Assessment:
        """Assess one public asset, keep it and rewrite its DQV graph."""
        return self.follow([(collection, identifier, data)])[identifier]

    def remove(self, identifier: str) -> None:
        self.follow([("", identifier, None)])

    def follow(
        self, changes: Sequence[tuple[str, str, dict[str, Any] | None]]
    ) -> dict[str, Assessment]:
        """Assess a batch of public assets (``(collection, identifier, data)``; data None:
        forget the asset) in one transaction (the caller's when one is open: the linker's),
        committed after their DQV graphs are replaced or dropped in one store write each;
        the assessments."""
        latest = {identifier: (c, data) for c, identifier, data in changes}
        found: dict[str, Assessment] = {}
        rows, problems, graphs = [], [], {}
        for identifier, (collection, data) in latest.items():
            if data is None:
                continue
            assessed = found[identifier] = assess(ASSET_TYPES[collection], data)
            modified = str((data.get("aiod_entry") or {}).get("date_modified") or "")
            rows.append(
                (
                    identifier,
                    collection,
                    str(data.get("platform") or ""),
                    assessed.score,
                    assessed.points,
                    assessed.max_points,
                    assessed.rating,
                    orjson.dumps(assessed.dimensions),
                    orjson.dumps(assessed.results),
                    modified,
                )
            )
            problems += [(identifier, p) for p in assessed.problems]
            iri = f"{self.base_url}/{collection}/{identifier}"
            graphs[self.graph_iri(identifier)] = self.triples(iri, identifier, assessed, modified)
        gone = [(i,) for i, (_, data) in latest.items() if data is None]
        with self.index.transaction() as db:
            db.executemany(
                "DELETE FROM quality_problems WHERE identifier = ?", [(i,) for i in latest]
            )
            db.executemany("DELETE FROM quality WHERE identifier = ?", gone)
            db.executemany(
                "INSERT INTO quality (identifier, type, platform, score, points, max_points,"
                " rating, dimensions, results, modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (identifier) DO UPDATE SET type = excluded.type,"
                " platform = excluded.platform, score = excluded.score,"
                " points = excluded.points, max_points = excluded.max_points,"
                " rating = excluded.rating, dimensions = excluded.dimensions,"
                " results = excluded.results, modified = excluded.modified",
                rows,
            )
            db.executemany("INSERT INTO quality_problems VALUES (?, ?)", problems)
            if self.catalog is not None:  # before the commit: a crash leaves the rows stale
                self.catalog.store.replace_graphs(graphs)
                store = self.catalog.store
                store.delete_graphs([g for (i,) in gone if store.has_graph(g := self.graph_iri(i))])
        return found

    def clear(self) -> None:
        with self.index.transaction() as db:
            db.execute("DELETE FROM quality")
            db.execute("DELETE FROM quality_problems")

    def triples(self, iri: str, identifier: str, found: Assessment, at: str) -> list[Triple]:
        graph = self.graph_iri(identifier)
        out: list[Triple] = [(graph, PROV + "wasGeneratedBy", IRI(f"{self.base_url}/quality"))]
        values = {"score": found.score, **found.dimensions}
        for name, value in values.items():
            node = f"{graph}#{name}"
            out += [
                (iri, DQV + "hasQualityMeasurement", IRI(node)),
                (node, RDF_TYPE, IRI(DQV + "QualityMeasurement")),
                (node, DQV + "computedOn", IRI(iri)),
                (node, DQV + "isMeasurementOf", IRI(self.metric_iri(name))),
                (node, DQV + "value", Lit(f"{value:.4f}", XSD_DECIMAL)),
            ]
            if at:
                out.append((node, PROV + "generatedAtTime", Lit(at, XSD_DATETIME)))
        return out

    # ------------------------------------------------------------------ reads

    def modified(self) -> dict[str, str]:
        rows = self.index.query("SELECT identifier, modified FROM quality")
        return {str(i): str(m) for i, m in rows}

    def get(self, identifier: str) -> dict[str, Any] | None:
        rows = self.index.query(
            "SELECT type, platform, points, max_points, dimensions, results "
            "FROM quality WHERE identifier = ?",
            [identifier],
        )
        if not rows:
            return None
        kind, platform, points, most, dimensions, results = rows[0]
        found = Assessment(
            float(str(points)),
            int(str(most)),
            orjson.loads(dimensions),  # type: ignore[arg-type]
            orjson.loads(results),  # type: ignore[arg-type]
        )
        return report(identifier, str(kind), str(platform), found)

    def ratings(self, identifiers: list[str]) -> dict[str, tuple[str, float]]:
        """``identifier -> (rating, score)`` of those assessed."""
        out: dict[str, tuple[str, float]] = {}
        for start in range(0, len(identifiers), 500):
            chunk = identifiers[start : start + 500]
            rows = self.index.query(
                "SELECT identifier, rating, score FROM quality WHERE identifier IN "
                f"({','.join('?' * len(chunk))})",
                chunk,
            )
            out.update({str(i): (str(r), float(str(s))) for i, r, s in rows})
        return out

    def summary(self, platform: str | None = None, type_: str | None = None) -> dict[str, Any]:
        """Averages per platform and type, the ratings and the most common problems."""
        where, params = [], []
        if platform is not None:
            where.append("platform = ?")
            params.append(platform)
        if type_ is not None:
            where.append("type = ?")
            params.append(type_)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        groups = []
        rows = self.index.query(
            f"SELECT platform, type, COUNT(*), AVG(score) FROM quality{clause} "
            "GROUP BY platform, type ORDER BY platform, type",
            params,
        )
        for group_platform, kind, count, average in rows:
            groups.append(
                {
                    "platform": group_platform,
                    "type": kind,
                    "assets": count,
                    "average": round(float(str(average)), 4),
                }
            )
        total, average = self.index.query(
            f"SELECT COUNT(*), AVG(score) FROM quality{clause}", params
        )[0]
        count = int(str(total))
        dimensions: dict[str, float] = {}
        ratings: dict[str, int] = {}
        if count:
            sums = dict.fromkeys(DIMENSIONS, 0.0)
            seen = dict.fromkeys(DIMENSIONS, 0)
            for dims, rating in self.index.query(
                f"SELECT dimensions, rating FROM quality{clause}", params
            ):
                for name, value in orjson.loads(dims).items():  # type: ignore[arg-type]
                    sums[name] += value
                    seen[name] += 1
                ratings[str(rating)] = ratings.get(str(rating), 0) + 1
            dimensions = {d: round(sums[d] / seen[d], 4) for d in DIMENSIONS if seen[d]}
        problems = []
        joined = clause.replace("platform", "q.platform").replace("type", "q.type")
        for indicator, hits in self.index.query(
            "SELECT p.indicator, COUNT(*) FROM quality_problems p JOIN quality q "
            f"ON q.identifier = p.identifier{joined} GROUP BY p.indicator "
            "ORDER BY COUNT(*) DESC, p.indicator LIMIT ?",
            [*params, TOP_PROBLEMS],
        ):
            spec = BY_KEY[str(indicator)]
            problems.append(
                {
                    "indicator": spec.key,
                    "dimension": spec.dimension,
                    "label": spec.label,
                    "advice": spec.advice,
                    "assets": hits,
                    "share": round(int(str(hits)) / count, 4) if count else 0.0,
                }
            )
        return {
            "assets": count,
            "average": round(float(str(average)), 4) if count else None,
            "dimensions": dimensions,
            "ratings": ratings,
            "groups": groups,
            "problems": problems,
        }


def report(identifier: str, collection: str, platform: str, found: Assessment) -> dict[str, Any]:
    """One asset's assessment as ``GET /quality/assets/{identifier}`` answers it."""
    results = found.results
    return {
        "identifier": identifier,
        "type": collection,
        "platform": platform,
        "score": found.score,
        "points": found.points,
        "max_points": found.max_points,
        "rating": found.rating,
        "dimensions": found.dimensions,
        "indicators": {
            k: {"dimension": BY_KEY[k].dimension, "points": BY_KEY[k].points, "met": v}
            for k, v in results.items()
        },
        "advice": [
            BY_KEY[k].advice
            for k in sorted(results, key=lambda k: -BY_KEY[k].points * (1 - results[k]))
            if results[k] < 1 and BY_KEY[k].advice
        ],
    }
