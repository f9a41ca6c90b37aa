"""Ranking at its limit (issue 14): one ranking per query whatever the page (a fixed candidate
pool, so ``total`` and every page agree), the vectorised fusion scoring each hit by its
signals exactly, the exact filtered dense search, and filters that do not change BM25.

One in-memory index over the search-eval corpus (186 real dataset descriptions), built once
for the module with the shipped MiniLM model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest

from kg.search import ranking
from kg.search.index import SearchIndex, SearchQuery
from kg.search.ranking import RELEVANCE_THRESHOLD
from kg.search.text import SearchDocument
from tests.support.data import SEARCH_EVAL

TYPES = ("datasets", "ml_models", "publications")
QUERIES = ("image classification", "speech recognition audio", "question answering text")


def _documents() -> list[SearchDocument]:
    corpus = [json.loads(line) for line in (SEARCH_EVAL / "corpus.jsonl").read_text().splitlines()]
    return [
        SearchDocument(
            identifier=f"doc-{i:04d}",
            type=TYPES[i % len(TYPES)],
            name=str(item["name"]),
            description=str(item.get("description") or ""),
            keywords=tuple(item["tags"][:4]),
            labels=tuple(item["tags"][:4]),
            platform=("zenodo", "openml")[i % 2],
        )
        for i, item in enumerate(corpus)
    ]


@pytest.fixture(scope="module")
def index() -> Iterator[SearchIndex]:
    found = SearchIndex(None)
    found.index_documents(_documents())
    yield found
    found.close()


def _ranking(index: SearchIndex, q: SearchQuery) -> tuple[list[str], int]:
    everything = index.search(replace(q, offset=0, limit=10_000))
    assert len(everything.hits) == everything.total  # every hit counted can be paged to
    return [h.identifier for h in everything.hits], everything.total


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "dense", "lexical"])
def test_total_and_pages_do_not_vary_with_paging(index: SearchIndex, mode: str) -> None:
    for text in QUERIES:
        q = SearchQuery(text, mode=mode)  # type: ignore[arg-type]
        ranked, total = _ranking(index, q)
        assert total > 20, (text, mode)
        for offset, limit in ((0, 10), (10, 10), (5, 7), (0, 50), (40, 30), (total - 3, 10)):
            page = index.search(replace(q, offset=offset, limit=limit))
            assert page.total == total, (text, mode, offset, limit)
            assert [h.identifier for h in page.hits] == ranked[offset : offset + limit]
        pages = [index.search(replace(q, offset=o, limit=10)).hits for o in range(0, 60, 10)]
        assert [h.identifier for p in pages for h in p] == ranked[:60]
        beyond = index.search(replace(q, offset=total + 5, limit=10))
        assert beyond.hits == [] and beyond.total == total


def test_a_full_pool_says_so_and_still_pages_one_ranking(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    q = SearchQuery("image classification")
    assert not index.search(q).capped  # 1000 candidates per signal cover the corpus
    monkeypatch.setattr(ranking, "POOL", 25)
    ranked, total = _ranking(index, q)
    found = index.search(q)
    assert found.capped and total == found.total
    assert total <= 3 * 25  # at most the union of the signals' pools
    for offset in (0, 7, 20):
        page = index.search(replace(q, offset=offset, limit=9))
        assert page.total == total
        assert [h.identifier for h in page.hits] == ranked[offset : offset + 9]


def test_fused_scores_are_the_signals(index: SearchIndex) -> None:
    """Every hit's parts, recomputed one document at a time the slow way."""
    text = "speech recognition audio"
    found = index.search(SearchQuery(text, limit=40))
    q = index._encode_query(index.doc_embedder, text)
    assert index.dense is not None
    label_sims = index.label_vectors @ q
    for hit in found.hits:
        docno = index.by_identifier[hit.identifier]
        dense = float(index.dense.index.reconstruct(docno) @ q)
        labels = index.cols.labels[docno]
        best = float(label_sims[labels].max()) if len(labels) else dense
        lexical, _ = index.lexical.search(text, 1, within=[docno])
        bm25 = lexical.get(docno, 0.0)
        assert hit.dense == pytest.approx(dense, abs=1e-5)
        assert hit.labels == pytest.approx(best, abs=1e-5)
        assert hit.lexical == pytest.approx(bm25, abs=1e-5)
        fused = dense + best + ranking.LEXICAL_WEIGHT * bm25
        assert hit.score == pytest.approx(fused, abs=1e-4)
        assert hit.score >= RELEVANCE_THRESHOLD["hybrid"]
    assert [h.score for h in found.hits] == sorted((h.score for h in found.hits), reverse=True)


def test_filters_do_not_change_bm25(index: SearchIndex) -> None:
    text = "image classification"
    plain, _ = index.lexical.search(text, 500)
    q = SearchQuery(text, types=["datasets"], platforms=["zenodo"])
    filtered, count = index.lexical.search(text, 500, q.filter)
    assert filtered and count == len(filtered) < len(plain)
    for docno, score in filtered.items():
        assert score == pytest.approx(plain[docno])
    within, _ = index.lexical.search(text, 500, within=list(filtered))
    assert within.keys() == filtered.keys()
    assert all(within[d] == pytest.approx(plain[d]) for d in within)


def test_top_k_without_counting_is_the_counted_top_k(index: SearchIndex) -> None:
    """The hybrid pool asks tantivy for its top k without a count (block-max WAND may then skip
    what cannot enter it): the same documents with the same scores, and a count that is that
    of the hits, filtered or not."""
    for text in ("image classification", "data set of images for training models"):
        for flt in (None, SearchQuery(text, types=["datasets", "ml_models"]).filter):
            counted, total = index.lexical.search(text, 40, flt)
            top, count = index.lexical.search(text, 40, flt, count=False)
            assert total > 40 and count == len(top) == 40
            assert list(top) == list(counted)
            assert all(top[d] == pytest.approx(counted[d]) for d in top)


def test_top_k_with_frequent_terms_optional_is_the_top_k(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool's top k leaves the frequent terms optional (MaxScore) only when the k-th hit
    outscores any document matching them alone: the same ranking and scores as the whole
    query, or the whole query is run."""
    from kg.search import lexical

    monkeypatch.setattr(lexical, "FREQUENT_SHARES", (0.15, 0.5))
    monkeypatch.setattr(lexical, "SPLIT_MIN_POSTINGS", 0)
    searcher = index.lexical.index.searcher()
    split = 0
    for text in (
        "image classification dataset",
        "speech recognition audio data",
        "question answering text",
        "sentiment of movie reviews",
        "data",
    ):
        for flt in (None, SearchQuery(text, types=["datasets"]).filter):
            for k in (5, 20, 60):
                whole, _ = index.lexical.search(text, k, flt)
                top, _ = index.lexical.search(text, k, flt, count=False)
                assert list(top) == list(whole), (text, flt, k)
                assert all(top[d] == pytest.approx(whole[d], abs=1e-6) for d in top)
                terms = index.lexical.terms(text)
                found = index.lexical._top_by_rare_terms(
                    searcher, terms, ["text"], flt or lexical.LexicalFilter(), None, k, 0
                )
                split += found is not None
    assert 0 < split < 30  # the split taken, and refused when it could not be shown exact


def test_within_many_docnos_is_searched_in_chunks(
    index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Candidates scored a chunk at a time score as in one query, filtered or not."""
    from kg.search import lexical

    text = "image classification dataset"
    docnos = list(range(0, index.cols.n, 2))
    for flt in (None, SearchQuery(text, types=["datasets"]).filter):
        whole, total = index.lexical.search(text, len(docnos), flt, within=docnos)
        monkeypatch.setattr(lexical, "WITHIN_CHUNK", 7)
        chunked, count = index.lexical.search(text, len(docnos), flt, within=docnos)
        monkeypatch.setattr(lexical, "WITHIN_CHUNK", 500)
        assert whole and chunked.keys() == whole.keys() and count == total
        assert all(chunked[d] == pytest.approx(whole[d]) for d in whole)


def test_exact_filtered_dense_search_on_hnsw(index: SearchIndex) -> None:
    """The HNSW index's flat storage answers a narrow filter exactly, with the scores the
    vectors give."""
    from kg.search.dense import DenseIndex

    assert index.dense is not None
    vectors = index.dense.vectors(np.arange(index.dense.size))
    hnsw = DenseIndex(vectors.shape[1], hnsw_threshold=10)
    hnsw.add(vectors)
    assert hnsw.is_hnsw
    np.testing.assert_array_equal(hnsw.matrix(), vectors)
    q = vectors[3]
    mask = np.zeros(len(vectors), dtype=bool)
    mask[::4] = True
    rows, scores = hnsw.search(q, 10, mask)
    sims = vectors[mask] @ q
    order = np.argsort(-sims, kind="stable")[:10]
    np.testing.assert_array_equal(rows, np.flatnonzero(mask)[order])
    np.testing.assert_allclose(scores, sims[order], rtol=1e-5)


def _facets_by_hand(index: SearchIndex, docnos: list[int], top: int = 20) -> dict[str, int]:
    counts: dict[str, int] = {}
    for docno in docnos:
        for keyword in index.cols.keywords[docno]:
            counts[keyword] = counts.get(keyword, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top])


def test_keyword_facet_counts_every_hit(index: SearchIndex) -> None:
    """The vectorised keyword facet (both its small-set gather and its whole-index mask)
    against a count by hand, ties ordered by name."""
    for q in (
        SearchQuery("image classification", limit=10_000),
        SearchQuery(""),
        SearchQuery("", types=["datasets"]),
    ):
        found = index.search(q, facets=True)
        docnos = [index.by_identifier[h.identifier] for h in found.hits]
        if q.text:
            assert found.facets["keyword"] == _facets_by_hand(index, docnos)
        else:
            alive = np.flatnonzero(index.cols.alive[: index.cols.n])
            wanted = [
                int(d)
                for d in alive
                if not q.types or index.types.values[index.cols.type[d]] in q.types
            ]
            assert found.total == len(wanted)
            assert found.facets["keyword"] == _facets_by_hand(index, wanted)
        assert sum(found.facets["type"].values()) == found.total


def test_row_lists_follow_appended_documents() -> None:
    from kg.search.csr import RowLists

    small = SearchIndex(None)
    try:
        docs = _documents()[:12]
        small.index_documents(docs[:6])
        lists = RowLists(small.cols, "keywords", named=True).extend()
        before = lists.counts(np.arange(small.cols.n))
        small.index_documents(docs[6:])
        small.index_documents([replace(docs[0], keywords=("zyxwvut",), labels=("zyxwvut",))])
        lists.extend()
        assert lists.rows == small.cols.n == 13 and lists.names is not None
        for docno in range(small.cols.n):
            ids = lists.flat[lists.indptr[docno] : lists.indptr[docno + 1]]
            assert tuple(lists.names[i] for i in ids) == small.cols.keywords[docno]
        assert lists.counts(np.arange(6))[: len(before)].tolist() == before.tolist()
        hits = small.search(SearchQuery("zyxwvut", mode="lexical")).hits
        assert [h.identifier for h in hits] == [docs[0].identifier]
    finally:
        small.close()
