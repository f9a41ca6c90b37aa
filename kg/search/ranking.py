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

The pool is fixed (issue 14): each signal brings its best ``POOL`` candidates whatever the
page asked for, so one query has one ranking, ``total`` is the same on every page and every
page is a slice of that ranking (pages past the last hit are empty). A pool growing with
``offset + limit`` made the total of one query change from page to page. When a signal fills
its pool, documents beyond it may pass the threshold too: ``SearchResults.capped`` says so
(the total is then "at least"). Every candidate is scored in full (BM25 of the candidates
outside the lexical pool too, for those that could still pass the threshold): leaving them
at 0 changed 10% of the top 10 at 100k documents. Lexical mode is BM25 alone, one global
ranking: it pages to any depth and its total counts every match.

Scoring is vectorised: numpy arrays over the candidates' positions (sorted docnos), dense
scores taken from the faiss search itself (only candidates of the other signals are looked up,
in a zero-copy view of faiss's storage), label similarities through a CSR of the label lists,
filters as boolean masks; the arithmetic runs on one BLAS/OpenMP thread (``one_thread``).
Also: browsing without text, facets, similar documents and highlights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from threadpoolctl import ThreadpoolController

from kg.search.csr import RowLists
from kg.search.embed import Vectors
from kg.search.lexical import LexicalFilter
from kg.search.store import FAST, IndexStore, IntArray

FloatArray = npt.NDArray[np.float32]
LEXICAL_WEIGHT = 0.3
POOL = 1000  # candidates per signal, whatever the page (see the module docstring)
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
    # a signal filled its candidate pool: documents beyond it may pass the threshold too, so
    # ``total`` counts the hits of the pool ("at least")
    capped: bool = False


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

    def warm_up(self) -> None:
        """Load the models and build the label and keyword lists now (about 3 s per
        million documents), rather than in the first query."""
        super().warm_up()
        with self._lock:
            self._lists("labels")
            self._lists("keywords")

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
        with self._lock, one_thread():
            if self.dense is None or self.cols.n == 0:
                return SearchResults([], 0, {})
            mask, selected = self._mask(q)
            if mode == "lexical":
                # BM25 alone is one global ranking: any page is a slice of it, any depth
                fields = list(q.fields) or ["text"]
                docnos, lex, total = self._lexical(text, q, q.offset + q.limit, fields)
                parts = np.zeros((3, len(docnos)), dtype=np.float32)
                parts[2] = lex
                scores, capped = lex, False
            else:
                assert q_doc is not None
                docnos, scores, parts, capped = self._pool(
                    text, q, mode, q_doc, q_label, mask, selected
                )
                keep = scores >= RELEVANCE_THRESHOLD[mode]
                docnos, scores, parts = docnos[keep], scores[keep], parts[:, keep]
                total = len(docnos)
            order = np.lexsort((docnos, -scores))
            page = order[q.offset : q.offset + q.limit]
            hits = [self._hit(int(docnos[i]), scores[i], parts[:, i]) for i in page]
            found = self._facets(docnos[order]) if facets else {}
        return SearchResults(hits, total, found, capped)

    def _lexical(
        self,
        text: str,
        q: SearchQuery,
        limit: int,
        fields: Sequence[str] = ("text",),
        count: bool = True,
    ) -> tuple[IntArray, FloatArray, int]:
        """The best ``limit`` BM25 matches (live documents): docnos, scores, number of
        matches (without ``count``: of those returned, see ``LexicalIndex.search``)."""
        found, count_ = self.lexical.search(
            text, limit, q.filter, fields, count=count, deleted=self.dead
        )
        docnos = np.fromiter(found.keys(), dtype=np.int64, count=len(found))
        scores = np.fromiter(found.values(), dtype=np.float32, count=len(found))
        live = self._live(docnos)
        return docnos[live], scores[live], count_

    def _live(self, docnos: IntArray) -> npt.NDArray[np.bool_]:
        inside = docnos < self.cols.n
        out = np.zeros(len(docnos), dtype=bool)
        out[inside] = self.cols.alive[docnos[inside]]
        return out

    def _pool(
        self,
        text: str,
        q: SearchQuery,
        mode: Mode,
        q_doc: Vectors,
        q_label: Vectors | None,
        mask: npt.NDArray[np.bool_] | None,
        selected: int,
    ) -> tuple[IntArray, FloatArray, FloatArray, bool]:
        """The fixed candidate pool of a query, scored: ``(docnos, scores, parts, capped)``
        with ``parts`` rows dense, labels, lexical. ``capped``: a signal filled its pool, so
        hits beyond the pool may exist."""
        dense_ids, dense_scores = self._dense_search(q_doc, q_label, POOL, mask, selected)
        # rows the dense search did not bring: a full pool, or a filtered HNSW search that
        # found fewer (it explores efSearch nodes, filtered or not)
        capped = selected > len(dense_ids)
        if mode == "dense":
            parts = np.zeros((3, len(dense_ids)), dtype=np.float32)
            parts[0] = dense_scores
            return dense_ids, dense_scores, parts, capped
        assert q_label is not None
        lexical_weight = LEXICAL_WEIGHT if mode == "hybrid" else 0.0
        lex_ids = np.zeros(0, dtype=np.int64)
        lex_scores = np.zeros(0, dtype=np.float32)
        lex_count = 0
        if lexical_weight:
            # the pool and one more (not a count of every match: that would score every match
            # of a frequent term, a tail of 100+ ms at 1M): beyond the pool there are matches
            # if that one is there
            lex_ids, lex_scores, lex_count = self._lexical(text, q, POOL + 1, count=False)
            if lex_count > POOL:
                lex_ids, lex_scores = lex_ids[:POOL], lex_scores[:POOL]
            capped = capped or lex_count > POOL
        label_sims = self._label_sims(q_label)
        label_rows = self._label_candidates(label_sims, mask)
        docnos = np.unique(np.concatenate([dense_ids, lex_ids, label_rows]))
        dense = _scatter(docnos, dense_ids, dense_scores)
        known = _member(docnos, dense_ids)
        if not known.all():
            dense[~known] = self._dense_scores(docnos[~known], q_doc, q_label)
        labels = self._label_best(docnos, label_sims, dense)
        lexical, known = _lookup(docnos, lex_ids, lex_scores)
        if lexical_weight and lex_count > len(lex_ids):
            lexical = self._more_lexical(
                text, q, docnos, lexical, known, dense + labels, lex_scores
            )
        scores = dense + labels + np.float32(lexical_weight) * lexical
        return docnos, scores, np.stack([dense, labels, lexical]), capped

    def _more_lexical(
        self,
        text: str,
        q: SearchQuery,
        docnos: IntArray,
        lexical: FloatArray,
        known: npt.NDArray[np.bool_],
        other: FloatArray,
        lex_scores: FloatArray,
    ) -> FloatArray:
        """BM25 of the candidates outside the lexical pool, only for those it could make a
        hit: outside the pool a document scores at most the pool's least BM25, so a candidate
        whose other signals plus that bound stay under the threshold is no hit whatever its
        BM25 (and is left at 0)."""
        bound = float(lex_scores.min()) if len(lex_scores) else 1.0
        could = ~known & (other + LEXICAL_WEIGHT * bound >= RELEVANCE_THRESHOLD["hybrid"])
        if not could.any():
            return lexical
        within = docnos[could].tolist()
        more, _ = self.lexical.search(text, len(within), q.filter, within=within, count=False)
        if more:
            ids = np.fromiter(more.keys(), dtype=np.int64, count=len(more))
            values = np.fromiter(more.values(), dtype=np.float32, count=len(more))
            lexical[np.searchsorted(docnos, ids)] = values
        return lexical

    def _label_sims(self, q_label: Vectors) -> FloatArray:
        if not len(self.label_vectors):
            return np.zeros(0, dtype=np.float32)
        return np.asarray(self.label_vectors @ q_label, dtype=np.float32)

    def _label_candidates(
        self, label_sims: FloatArray, mask: npt.NDArray[np.bool_] | None
    ) -> IntArray:
        """Documents carrying one of the labels closest to the query (small postings)."""
        none = np.zeros(0, dtype=np.int64)
        if not len(label_sims):
            return none
        if len(label_sims) > LABELS_PER_QUERY:
            top = np.argpartition(-label_sims, LABELS_PER_QUERY)[:LABELS_PER_QUERY]
        else:
            top = np.arange(len(label_sims))
        top = top[label_sims[top] >= LABEL_MIN_SIMILARITY]
        postings = [self.label_postings[i] for i in top.tolist()]
        rows = [np.asarray(p, dtype=np.int64) for p in postings if len(p) <= POOL]
        if not rows:
            return none
        found = np.concatenate(rows)
        allowed = self.cols.alive[found] if mask is None else mask[found]
        return found[allowed]

    def _label_best(
        self, docnos: IntArray, label_sims: FloatArray, dense: FloatArray
    ) -> FloatArray:
        """Best label similarity per candidate (no labels: its dense score): a ragged gather
        of their label lists and ``maximum.reduceat``, no loop per candidate."""
        best = dense.copy()
        if not len(label_sims) or not len(docnos):
            return best
        labels, starts, has = self._lists("labels").gather(docnos)
        if has.any():
            best[has] = np.maximum.reduceat(label_sims[labels], starts)
        return best

    def _lists(self, column: str) -> RowLists:
        """``cols.labels`` or ``cols.keywords`` in CSR form (``kg.search.csr``)."""
        cache = self._row_lists
        found = cache.get(column)
        if found is None or found.cols is not self.cols:
            found = cache[column] = RowLists(self.cols, column, named=column == "keywords")
        return found.extend()

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
    ) -> tuple[IntArray, FloatArray]:
        """Nearest documents, with their scores from the search itself; in fast mode from
        both vector sets, scored by the best vector each document has (MiniLM once computed,
        the static one until then)."""
        assert self.dense is not None
        if self.model != FAST or self.full is None or q_full is None or self.full.size == 0:
            return self.dense.search(q_doc, k, mask, selected)
        n = self.cols.n
        static_only = (self.cols.alive[:n] if mask is None else mask) & (self.cols.full[:n] < 0)
        ids, scores = self.dense.search(q_doc, k, static_only)
        rows = self._full_rows()
        allowed = self.cols.alive[rows] if mask is None else mask[rows] & self.cols.alive[rows]
        more_rows, more_scores = self.full.search(q_full, k, allowed)
        # a docno is in only one of the two: static_only excludes those with a MiniLM vector
        return np.concatenate([ids, rows[more_rows]]), np.concatenate([scores, more_scores])

    def _dense_scores(self, docnos: IntArray, q_doc: Vectors, q_full: Vectors | None) -> FloatArray:
        assert self.dense is not None
        scores = self.dense.scores(docnos, q_doc)
        if self.model == FAST and self.full is not None and q_full is not None:
            rows = self.cols.full[docnos]
            has = rows >= 0
            if has.any():
                scores[has] = self.full.scores(rows[has], q_full)
        return scores

    def _hit(
        self, docno: int, score: float, parts: Sequence[float] | FloatArray = (0.0, 0.0, 0.0)
    ) -> Hit:
        return Hit(
            self.cols.identifiers[docno],
            self.types.values[self.cols.type[docno]],
            round(float(score), 6),
            round(float(parts[0]), 6),
            round(float(parts[1]), 6),
            round(float(parts[2]), 6),
        )

    def _browse(self, q: SearchQuery, facets: bool) -> SearchResults:
        """No query text: the filtered documents, in the order they were indexed."""
        with self._lock:
            mask, _ = self._mask(q)
            n = self.cols.n
            rows = np.flatnonzero(mask if mask is not None else self.cols.alive[:n])
            page = rows[q.offset : q.offset + q.limit]
            hits = [self._hit(int(d), 0.0) for d in page]
            found = self._facets(rows) if facets else {}
            return SearchResults(hits, len(rows), found)

    def _facets(self, rows: IntArray, top: int = 20) -> dict[str, dict[str, int]]:
        if not len(rows):
            return {"type": {}, "platform": {}, "license": {}, "keyword": {}}
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
        keywords = self._lists("keywords")
        counts = keywords.counts(rows)
        assert keywords.names is not None
        if len(counts) > top:  # the top counts and every keyword tied with the last of them
            least = np.partition(counts, len(counts) - top)[len(counts) - top]
            shown = np.flatnonzero(counts >= max(int(least), 1))
        else:
            shown = np.flatnonzero(counts)
        ordered = sorted(((keywords.names[i], int(counts[i])) for i in shown), key=_by_count)
        out["keyword"] = dict(ordered[:top])
        return out

    def similar(
        self, identifier: str, limit: int = 10, types: Sequence[str] = ()
    ) -> list[Hit] | None:
        """Documents whose vectors are nearest to this one's (None if it is not indexed)."""
        with self._lock, one_thread():
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
            ids, scores = self.dense.search(vector, limit, mask, selected)
            return [self._hit(int(d), s, (s, 0.0, 0.0)) for d, s in zip(ids, scores, strict=True)]

    def highlight(self, query: str, text: str, max_chars: int = 240) -> str | None:
        return self.lexical.highlight(query, text, max_chars)


_threads: ThreadpoolController | None = None


def one_thread() -> Any:
    """BLAS and OpenMP on one thread for the block: one query's matrix-vector products and
    faiss searches are too small to gain from threads, and on a shared 2-core machine under
    load the hand-off costs more than the work (a 20k x 384 product: 4 ms on one thread,
    12 ms on two; a flat faiss search: 3 ms vs 33 ms). Concurrent queries use the cores."""
    global _threads
    if _threads is None:
        _threads = ThreadpoolController()
    return _threads.limit(limits=1)


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def _scatter(docnos: IntArray, ids: IntArray, values: FloatArray) -> FloatArray:
    """``values`` of ``ids`` at their positions in the sorted ``docnos`` (0 elsewhere)."""
    out = np.zeros(len(docnos), dtype=np.float32)
    if len(ids):
        out[np.searchsorted(docnos, ids)] = values
    return out


def _lookup(
    docnos: IntArray, ids: IntArray, values: FloatArray
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """``values`` of those ``ids`` that are among the sorted ``docnos``, at their positions
    (0 elsewhere), and which positions got one."""
    out = np.zeros(len(docnos), dtype=np.float32)
    found = np.zeros(len(docnos), dtype=bool)
    if len(ids) and len(docnos):
        pos = np.minimum(np.searchsorted(docnos, ids), len(docnos) - 1)
        hit = docnos[pos] == ids
        out[pos[hit]] = values[hit]
        found[pos[hit]] = True
    return out, found


def _member(docnos: IntArray, ids: IntArray) -> npt.NDArray[np.bool_]:
    """Which of the sorted ``docnos`` are in ``ids``."""
    out = np.zeros(len(docnos), dtype=bool)
    if len(ids):
        out[np.searchsorted(docnos, ids)] = True
    return out
