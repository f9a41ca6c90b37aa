"""Ranking: answering a query from the index. Three signals score a document:

- ``dense``: cosine of the query and the document vector (name, start of the description,
  labels; all-MiniLM-L6-v2, or the static model distilled from it for bulk speed);
- ``labels``: the best cosine of the query and any one of the document's curated labels
  (keywords, research areas, ...), each label embedded once with MiniLM and shared by every
  document carrying it; a document without labels gets its dense score here;
- ``lexical``: BM25 (tantivy) normalised by the query's upper bound, in [0, 1].

Hybrid score = dense + labels + LEXICAL_WEIGHT * lexical, over the union of the candidates of
each signal. A hit is returned (and counted in ``total``) only if its score reaches its mode's
``RELEVANCE_THRESHOLD``: the candidate pool is not the answer. Filters (type, platform,
licence, keyword, date range) apply to every signal.
Also: browsing without text, facets, similar documents and highlights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from kg.search.embed import Vectors
from kg.search.lexical import LexicalFilter
from kg.search.store import FAST, IndexStore, IntArray

LEXICAL_WEIGHT = 0.3
MIN_CANDIDATES = 100
LABEL_MIN_SIMILARITY = 0.45
LABELS_PER_QUERY = 8
# The least score of a hit, per mode (lexical: any BM25 match). Hybrid: the highest fused score
# that keeps nDCG@10 on tests/data/search-eval (bench/search_quality.py, MiniLM: 0.9122 with and
# without it; 0.55 loses 0.017); the others scaled to their signals, likewise without loss.
RELEVANCE_THRESHOLD: dict[str, float] = {"hybrid": 0.5, "semantic": 0.3, "dense": 0.15}
# hybrid: all three signals; lexical: BM25; dense: the asset vectors; semantic: dense + labels
# without BM25 (the last three are for comparison: bench/search_quality.py)
Mode = Literal["hybrid", "lexical", "dense", "semantic"]


@dataclass(frozen=True)
class SearchQuery:
    text: str
    types: Sequence[str] = ()
    platforms: Sequence[str] = ()
    licenses: Sequence[str] = ()
    keywords: Sequence[str] = ()
    date_from: int | None = None  # proleptic ordinals (date.toordinal())
    date_to: int | None = None
    offset: int = 0
    limit: int = 10
    mode: Mode = "hybrid"
    fields: Sequence[str] = ()  # restrict lexical matching to these fields (lexical only)

    @property
    def filter(self) -> LexicalFilter:
        return LexicalFilter(
            self.types, self.platforms, self.licenses, self.keywords, self.date_from, self.date_to
        )


@dataclass(frozen=True)
class Hit:
    identifier: str
    type: str
    score: float
    dense: float = 0.0
    labels: float = 0.0
    lexical: float = 0.0


@dataclass
class SearchResults:
    hits: list[Hit]
    total: int
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


def group_by_work(
    hits: Sequence[Hit], work_of: Callable[[str], Sequence[str]]
) -> list[tuple[Hit, list[str]]]:
    """One hit per work (issue 18): a hit whose work a better-ranked hit already stands for is
    dropped; each kept hit comes with the other records of its work (``work_of(identifier)``:
    every record of the work, e.g. ``kg.linking.Linker.work``), in their order."""
    shown: set[str] = set()
    out: list[tuple[Hit, list[str]]] = []
    for hit in hits:
        if hit.identifier in shown:
            continue
        work = list(work_of(hit.identifier)) or [hit.identifier]
        shown.update(work)
        shown.add(hit.identifier)
        out.append((hit, [i for i in work if i != hit.identifier]))
    return out


class Ranking(IndexStore):
    """Queries over the index's state."""

    def _mask(self, q: SearchQuery) -> tuple[npt.NDArray[np.bool_] | None, int]:
        """Rows allowed by the filters (None: every live row), and how many there are."""
        cols = self.cols
        n = cols.n
        if q.filter.empty:
            if self.dead == 0:
                return None, n
            mask = cols.alive[:n].copy()
            return mask, int(mask.sum())
        mask = cols.alive[:n].copy()
        for values, column, codes in (
            (q.types, cols.type, self.types),
            (q.platforms, cols.platform, self.platforms),
            (q.licenses, cols.license, self.licenses),
        ):
            if values:
                wanted = codes.lookup(values)
                allowed = np.zeros(n, dtype=bool)
                for code in wanted:  # equality per value: ~10x faster than np.isin
                    allowed |= column[:n] == code
                mask &= allowed
        if q.date_from is not None:
            mask &= cols.date[:n] >= q.date_from
        if q.date_to is not None:
            mask &= (cols.date[:n] <= q.date_to) & (cols.date[:n] >= 0)
        if q.keywords:
            allowed = np.zeros(n, dtype=bool)
            for keyword in q.keywords:
                rows = self.keyword_postings.get(keyword.lower(), [])
                allowed[np.asarray(rows, dtype=np.int64)] = True
            mask &= allowed
        return mask, int(mask.sum())

    def search(self, q: SearchQuery, facets: bool = False) -> SearchResults:
        want = q.offset + q.limit
        k = max(MIN_CANDIDATES, 2 * want)
        text = q.text.strip()
        if not text:
            return self._browse(q, facets)
        mode: Mode = "lexical" if q.fields else q.mode
        need_vectors = mode != "lexical" and len(self) > 0
        q_doc = self._encode_query(self.doc_embedder, text) if need_vectors else None
        q_label = None
        if need_vectors and (mode in ("hybrid", "semantic") or self.model == FAST):
            q_label = (
                q_doc
                if self.label_embedder is self.doc_embedder
                else self._encode_query(self.label_embedder, text)
            )
        with self._lock:
            if self.dense is None or self.cols.n == 0:
                return SearchResults([], 0, {})
            mask, selected = self._mask(q)
            lexical: dict[int, float] = {}
            dense: dict[int, float] = {}
            lex_total = 0
            if mode in ("hybrid", "lexical"):
                fields = list(q.fields) or ["text"]
                lexical, lex_total = self.lexical.search(text, k, q.filter, fields)
                lexical = self._valid(lexical)
            if mode == "lexical":
                scores = lexical
                total = lex_total
                parts: dict[int, tuple[float, float, float]] = {
                    d: (0.0, 0.0, s) for d, s in lexical.items()
                }
            else:
                assert q_doc is not None
                dense = self._dense_search(q_doc, q_label, k, mask, selected)
                if mode == "dense":
                    scores = dense
                    parts = {d: (s, 0.0, 0.0) for d, s in dense.items()}
                else:
                    assert q_label is not None
                    scores, parts = self._fuse(
                        text,
                        q,
                        q_doc,
                        q_label,
                        dense,
                        lexical,
                        mask,
                        k,
                        lexical_weight=LEXICAL_WEIGHT * (mode == "hybrid"),
                    )
                least = RELEVANCE_THRESHOLD[mode]
                scores = {d: s for d, s in scores.items() if s >= least}
                total = len(scores)
            ranked = sorted(scores, key=lambda d: (-scores[d], d))
            page = ranked[q.offset : want]
            hits = [self._hit(d, scores[d], parts[d]) for d in page]
            found = self._facets(ranked) if facets else {}
        return SearchResults(hits, total, found)

    def _full_rows(self) -> IntArray:
        cached = self._full_rows_cache
        if cached is None or len(cached) != len(self.full_docnos):
            cached = np.asarray(self.full_docnos, dtype=np.int64)
            self._full_rows_cache = cached
        return cached

    def _dense_search(
        self,
        q_doc: Vectors,
        q_full: Vectors | None,
        k: int,
        mask: npt.NDArray[np.bool_] | None,
        selected: int,
    ) -> dict[int, float]:
        """Nearest documents; in fast mode from both vector sets, scored by the best vector
        each document has (MiniLM once computed, the static one until then)."""
        assert self.dense is not None
        if self.model != FAST or self.full is None or q_full is None or self.full.size == 0:
            return self.dense.search(q_doc, k, mask, selected)
        n = self.cols.n
        static_only = (self.cols.alive[:n] if mask is None else mask) & (self.cols.full[:n] < 0)
        found = self.dense.search(q_doc, k, static_only)
        rows = self._full_rows()
        allowed = self.cols.alive[rows] if mask is None else mask[rows] & self.cols.alive[rows]
        more = self.full.search(q_full, k, allowed)
        docnos = np.fromiter(set(found) | {int(rows[r]) for r in more}, dtype=np.int64)
        scores = self._dense_scores(docnos, q_doc, q_full)
        return dict(zip(docnos.tolist(), scores.tolist(), strict=True))

    def _dense_scores(
        self, docnos: IntArray, q_doc: Vectors, q_full: Vectors | None
    ) -> npt.NDArray[np.float32]:
        assert self.dense is not None
        scores = np.asarray(self.dense.vectors(docnos) @ q_doc, dtype=np.float32)
        if self.model == FAST and self.full is not None and q_full is not None:
            rows = self.cols.full[docnos]
            has = rows >= 0
            if has.any():
                scores[has] = self.full.vectors(rows[has]) @ q_full
        return scores

    def _valid(self, scores: dict[int, float]) -> dict[int, float]:
        alive = self.cols.alive
        return {d: s for d, s in scores.items() if d < self.cols.n and alive[d]}

    def _fuse(
        self,
        text: str,
        q: SearchQuery,
        q_doc: Vectors,
        q_label: Vectors,
        dense: dict[int, float],
        lexical: dict[int, float],
        mask: npt.NDArray[np.bool_] | None,
        k: int,
        lexical_weight: float,
    ) -> tuple[dict[int, float], dict[int, tuple[float, float, float]]]:
        assert self.dense is not None
        label_sims = (
            self.label_vectors @ q_label
            if len(self.label_vectors)
            else np.zeros(0, dtype=np.float32)
        )
        candidates = set(dense) | set(lexical)
        # documents carrying a label close to the query are candidates too (small postings)
        if len(label_sims):
            if len(label_sims) > LABELS_PER_QUERY:
                top = np.argpartition(-label_sims, LABELS_PER_QUERY)[:LABELS_PER_QUERY]
            else:
                top = np.arange(len(label_sims))
            top = top[np.argsort(-label_sims[top])]
            for label_id in top:
                if label_sims[label_id] < LABEL_MIN_SIMILARITY:
                    break
                rows = self.label_postings[label_id]
                if len(rows) <= k:
                    candidates.update(
                        r for r in rows if self.cols.alive[r] and (mask is None or mask[r])
                    )
        docnos = np.fromiter(candidates, dtype=np.int64, count=len(candidates))
        if len(docnos) == 0:
            return {}, {}
        dense_scores = self._dense_scores(docnos, q_doc, q_label)
        missing = [int(d) for d in docnos if int(d) not in lexical]
        if missing and lexical_weight:
            more, _ = self.lexical.search(text, len(missing), q.filter, within=missing)
            lexical = {**lexical, **self._valid(more)}
        # best label similarity per candidate, vectorised (no labels: the dense score)
        label_lists = [self.cols.labels[d] for d in docnos.tolist()]
        sizes = np.fromiter((len(x) for x in label_lists), dtype=np.int64, count=len(docnos))
        label_best = dense_scores.astype(np.float32).copy()
        has = sizes > 0
        if has.any() and len(label_sims):
            flat = np.concatenate([x for x in label_lists if len(x)])
            starts = np.concatenate([[0], np.cumsum(sizes[has])[:-1]])
            label_best[has] = np.maximum.reduceat(label_sims[flat], starts)
        lex_scores = np.fromiter(
            (lexical.get(d, 0.0) for d in docnos.tolist()), dtype=np.float32, count=len(docnos)
        )
        total = dense_scores + label_best + lexical_weight * lex_scores
        scores = dict(zip(docnos.tolist(), total.tolist(), strict=True))
        parts = {
            d: (float(a), float(b), float(c))
            for d, a, b, c in zip(
                docnos.tolist(),
                dense_scores.tolist(),
                label_best.tolist(),
                lex_scores.tolist(),
                strict=True,
            )
        }
        return scores, parts

    def _hit(self, docno: int, score: float, parts: tuple[float, float, float]) -> Hit:
        return Hit(
            self.cols.identifiers[docno],
            self.types.values[self.cols.type[docno]],
            round(float(score), 6),
            round(parts[0], 6),
            round(parts[1], 6),
            round(parts[2], 6),
        )

    def _browse(self, q: SearchQuery, facets: bool) -> SearchResults:
        """No query text: the filtered documents, in the order they were indexed."""
        with self._lock:
            mask, _ = self._mask(q)
            n = self.cols.n
            rows = np.flatnonzero(mask if mask is not None else self.cols.alive[:n])
            page = rows[q.offset : q.offset + q.limit]
            hits = [self._hit(int(d), 0.0, (0.0, 0.0, 0.0)) for d in page]
            found = self._facets(rows.tolist()) if facets else {}
            return SearchResults(hits, len(rows), found)

    def _facets(self, docnos: Sequence[int], top: int = 20) -> dict[str, dict[str, int]]:
        if not len(docnos):
            return {"type": {}, "platform": {}, "license": {}, "keyword": {}}
        rows = np.asarray(docnos, dtype=np.int64)
        out: dict[str, dict[str, int]] = {}
        for name, column, codes in (
            ("type", self.cols.type, self.types),
            ("platform", self.cols.platform, self.platforms),
            ("license", self.cols.license, self.licenses),
        ):
            counts = np.bincount(column[rows], minlength=len(codes.values))
            order = np.argsort(-counts, kind="stable")
            out[name] = {
                codes.values[c]: int(counts[c]) for c in order[:top] if counts[c] and c != 0
            }
        keyword_counts: dict[str, int] = {}
        for docno in rows.tolist():
            for keyword in self.cols.keywords[docno]:
                keyword_counts[keyword] = keyword_counts.get(keyword, 0) + 1
        ordered = sorted(keyword_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        out["keyword"] = dict(ordered)
        return out

    def similar(
        self, identifier: str, limit: int = 10, types: Sequence[str] = ()
    ) -> list[Hit] | None:
        """Documents whose vectors are nearest to this one's (None if it is not indexed)."""
        with self._lock:
            docno = self.by_identifier.get(identifier)
            if docno is None or self.dense is None:
                return None
            vector = self.dense.vectors(np.array([docno], dtype=np.int64))[0]
            mask, selected = self._mask(SearchQuery("", types=types))
            if mask is None:
                mask = np.ones(self.cols.n, dtype=bool)
            if mask[docno]:
                mask[docno] = False
                selected -= 1
            found = self.dense.search(vector, limit, mask, selected)
            ranked = sorted(found, key=lambda d: (-found[d], d))
            return [self._hit(d, found[d], (found[d], 0.0, 0.0)) for d in ranked]

    def highlight(self, query: str, text: str, max_chars: int = 240) -> str | None:
        return self.lexical.highlight(query, text, max_chars)
