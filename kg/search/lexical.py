"""The lexical side of search: BM25 over the asset text, on a tantivy index beside the store.

Scores are returned normalised by the query's BM25 upper bound (every query term matched with
saturated frequency), so 1.0 means "matches every term strongly" whatever the query, and
lexical scores can be added to cosine similarities without per-query min-max stretching; a
match gets ``MATCH_BONUS`` on top (capped at 1.0). Filters and ``within`` restrict the matches
and add nothing to a score, so a document scores the same in every query with the same text.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import tantivy

from kg.search.text import SearchDocument, readable

K1 = 1.2  # tantivy's BM25 parameters
TEXT_FIELDS = ("text", "name", "description", "keywords")
FILTER_FIELDS = ("type", "platform", "license", "keyword")
# Added to the BM25 of every match before normalising: a document matching any query term
# gains MATCH_BONUS / bound. Filter clauses used to add it by accident (a bare term-set query
# scores 1.0), to filtered queries only; the search-eval queries are all filtered and lose
# 0.0115 nDCG@10 without it (0.9002 -> 0.8887), so every query now gets it, filters or not.
MATCH_BONUS = 1.0
# The top k of a query without a count (the search pool) leaves the terms in at least a share
# of the documents optional (``LexicalIndex._top_by_rare_terms``), when their postings number
# at least SPLIT_MIN_POSTINGS (below that, scoring them all is cheap)
FREQUENT_SHARES = (0.05, 0.3)  # tried in turn: the terms in at least this share are optional
SPLIT_MIN_POSTINGS = 50_000
WITHIN_TERMS = 1000  # up to this many docnos, ``within`` is a disjunction of term queries
WITHIN_CHUNK = 500  # a longer ``within`` is searched this many docnos at a time


def _analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.stopword("english"))
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("identifier", stored=True, tokenizer_name="raw")
    builder.add_unsigned_field("docno", stored=True, indexed=True, fast=True)
    for name in TEXT_FIELDS:
        builder.add_text_field(name, stored=False, tokenizer_name="kg_en")
    for name in FILTER_FIELDS:
        builder.add_text_field(name, stored=False, tokenizer_name="raw", fast=True)
    builder.add_integer_field("date", stored=False, indexed=True, fast=True)
    return builder.build()


@dataclass(frozen=True)
class LexicalFilter:
    types: Sequence[str] = ()
    platforms: Sequence[str] = ()
    licenses: Sequence[str] = ()
    keywords: Sequence[str] = ()
    date_from: int | None = None
    date_to: int | None = None

    @property
    def empty(self) -> bool:
        return not (
            self.types
            or self.platforms
            or self.licenses
            or self.keywords
            or self.date_from is not None
            or self.date_to is not None
        )


class LexicalIndex:
    """BM25 search on tantivy. Not thread-safe for writes: the search index serialises them."""

    def __init__(self, path: Path | None) -> None:
        self.schema = _schema()
        self.analyzer = _analyzer()
        if path is not None:
            path.mkdir(parents=True, exist_ok=True)
            try:
                self.index = tantivy.Index(self.schema, path=str(path), reuse=True)
            except ValueError:  # an index of another schema version: start afresh
                shutil.rmtree(path)
                path.mkdir(parents=True)
                self.index = tantivy.Index(self.schema, path=str(path), reuse=True)
        else:
            self.index = tantivy.Index(self.schema)
        self.index.register_tokenizer("kg_en", _analyzer())
        self._writer: tantivy.IndexWriter | None = None

    # ------------------------------------------------------------------ writes

    @property
    def writer(self) -> tantivy.IndexWriter:
        if self._writer is None:
            self._writer = self.index.writer(heap_size=64_000_000, num_threads=1)
        return self._writer

    def upsert(self, items: Iterable[tuple[int, SearchDocument]]) -> None:
        writer = self.writer
        for docno, doc in items:
            writer.delete_documents_by_term("identifier", doc.identifier)
            labels = " ".join(readable(k) for k in doc.labels)
            document = tantivy.Document()
            document.add_text("identifier", doc.identifier)
            document.add_unsigned("docno", docno)
            # the name and labels count twice in the combined field: a simple field boost
            document.add_text(
                "text",
                " ".join(
                    [
                        readable(doc.name),
                        readable(doc.name),
                        doc.description,
                        labels,
                        labels,
                        *doc.extra,
                    ]
                ),
            )
            document.add_text("name", readable(doc.name))
            document.add_text("description", doc.description)
            document.add_text("keywords", labels)
            document.add_text("type", doc.type)
            for keyword in doc.keywords:
                document.add_text("keyword", keyword.lower())
            if doc.platform:
                document.add_text("platform", doc.platform)
            if doc.license:
                document.add_text("license", doc.license)
            if doc.date is not None:
                document.add_integer("date", doc.date)
            writer.add_document(document)

    def delete(self, identifiers: Iterable[str]) -> None:
        writer = self.writer
        for identifier in identifiers:
            writer.delete_documents_by_term("identifier", identifier)

    def clear(self) -> None:
        self.writer.delete_all_documents()
        self.commit()

    def commit(self) -> None:
        if self._writer is not None:
            self._writer.commit()
            self._writer.wait_merging_threads()
            self._writer = None
        self.index.reload()

    # ------------------------------------------------------------------ reads

    def terms(self, query: str) -> list[str]:
        return list(dict.fromkeys(self.analyzer.analyze(query)))

    def _text_query(self, terms: Sequence[str], fields: Sequence[str]) -> tantivy.Query:
        clauses = [
            (tantivy.Occur.Should, tantivy.Query.term_query(self.schema, f, t))
            for f in fields
            for t in terms
        ]
        return tantivy.Query.boolean_query(clauses)

    def _filter_clauses(self, flt: LexicalFilter) -> list[tuple[tantivy.Occur, tantivy.Query]]:
        out: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for name, values in (
            ("type", flt.types),
            ("platform", flt.platforms),
            ("license", flt.licenses),
            ("keyword", [v.lower() for v in flt.keywords]),
        ):
            if values:
                out.append(_filter(tantivy.Query.term_set_query(self.schema, name, list(values))))
        if flt.date_from is not None or flt.date_to is not None:
            out.append(
                _filter(
                    tantivy.Query.range_query(
                        self.schema, "date", tantivy.FieldType.Integer, flt.date_from, flt.date_to
                    )
                )
            )
        return out

    def upper_bound(self, terms: Sequence[str], field: str = "text") -> float:
        """BM25 of a document matching every term with saturated frequency."""
        searcher = self.index.searcher()
        n = max(searcher.num_docs, 1)
        total = 0.0
        for term in terms:
            total += _idf(n, searcher.doc_freq(field, term)) * (K1 + 1)
        return total

    def search(
        self,
        query: str,
        limit: int,
        flt: LexicalFilter | None = None,
        fields: Sequence[str] = ("text",),
        within: Sequence[int] | None = None,
        count: bool = True,
        deleted: int = 0,
    ) -> tuple[dict[int, float], int]:
        """``({docno: normalised score}, number of matching documents)``.

        ``within`` restricts the search to these docnos (to score given candidates). Without
        ``count`` the number is only that of the hits returned (a lower bound), and the top
        ``limit`` may be found without scoring every match of the query's frequent terms
        (``_top_by_rare_terms``; ``deleted``: at least as many documents as were ever
        deleted from the index, for its bound)."""
        terms = self.terms(query)
        if not terms or limit <= 0:
            return {}, 0
        if within is not None and not within:
            return {}, 0
        flt = flt or LexicalFilter()
        if within is not None and len(within) > WITHIN_CHUNK:
            return self._search_chunks(query, limit, flt, fields, within, count, deleted)
        searcher = self.index.searcher()
        hits = None
        if not count:
            hits = self._top_by_rare_terms(searcher, terms, fields, flt, within, limit, deleted)
        total = 0
        if hits is None:
            result = searcher.search(
                self._query(terms, fields, flt, within), limit=limit, count=count
            )
            hits = result.hits
            total = int(getattr(result, "count", 0) or 0)
        bound = sum(self.upper_bound(terms, f) for f in fields) or 1.0
        # the docno column, not the stored documents (~30 us each, a thousand per query)
        docnos = searcher.fast_field_values("docno", [address for _, address in hits])
        scores = {
            int(docno): min(1.0, (float(score) + MATCH_BONUS) / bound)
            for (score, _), docno in zip(hits, docnos, strict=True)
            if docno is not None
        }
        return scores, total if count else len(scores)

    def _search_chunks(
        self,
        query: str,
        limit: int,
        flt: LexicalFilter,
        fields: Sequence[str],
        within: Sequence[int],
        count: bool,
        deleted: int,
    ) -> tuple[dict[int, float], int]:
        """``search`` within many docnos, ``WITHIN_CHUNK`` at a time: at 1M documents, ~1,700
        candidates cost 18 ms in one term-set query (its cost grows with the index) and 7 ms
        as disjunctions of 500 term queries."""
        found: dict[int, float] = {}
        total = 0
        for start in range(0, len(within), WITHIN_CHUNK):
            part = within[start : start + WITHIN_CHUNK]
            scores, matched = self.search(query, limit, flt, fields, part, count, deleted)
            found.update(scores)
            total += matched
        if len(found) > limit:
            found = dict(sorted(found.items(), key=lambda kv: -kv[1])[:limit])
        return found, total if count else len(found)

    def _top_by_rare_terms(
        self,
        searcher: tantivy.Searcher,
        terms: Sequence[str],
        fields: Sequence[str],
        flt: LexicalFilter,
        within: Sequence[int] | None,
        limit: int,
        deleted: int,
    ) -> list[tuple[float, tantivy.DocAddress]] | None:
        """The exact top ``limit`` of the query without scoring every match of its frequent
        terms, or None when that cannot be shown (then the whole query is run).

        tantivy-py collects a top k through a multi-collector, which scores every match (no
        block-max WAND): a query with a term in most documents (``languag``: 88% of them at
        1M) cost 40-60 ms whatever the k. So, as MaxScore does: the terms in at least a
        share of the documents (``FREQUENT_SHARES``: 5%, else 30%) only add to the score of
        documents matching one of the others (a clause that must match; the frequent ones
        are optional). A document matching frequent terms alone scores at most their BM25
        ceilings' sum (each ``idf * (k1 + 1)``); if the ``limit``-th hit scores more than
        that, no such document could enter the top, which is then the query's own, scores
        included."""
        if within is not None or len(terms) < 2:
            return None
        pairs = sorted(
            ((f, t, searcher.doc_freq(f, t)) for f in fields for t in terms), key=lambda p: p[2]
        )
        n = searcher.num_docs
        tried = 0
        for share in FREQUENT_SHARES:
            rare = max(1, sum(1 for p in pairs if p[2] < share * n))
            if rare == tried or rare == len(pairs):
                continue
            tried = rare
            found = self._top_with_optional(searcher, pairs, rare, flt, limit, n + deleted)
            if found is not None:
                return found
        return None

    def _top_with_optional(
        self,
        searcher: tantivy.Searcher,
        pairs: Sequence[tuple[str, str, int]],
        rare: int,
        flt: LexicalFilter,
        limit: int,
        most: int,
    ) -> list[tuple[float, tantivy.DocAddress]] | None:
        """One try of ``_top_by_rare_terms``: ``pairs[rare:]`` (field, term, document
        frequency) optional; ``most``: at least tantivy's N (its idf counts deleted documents
        not yet merged away)."""
        frequent = pairs[rare:]
        if (
            sum(p[2] for p in frequent) < SPLIT_MIN_POSTINGS
            or sum(p[2] for p in pairs[:rare]) < limit
        ):
            return None
        required = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Should, tantivy.Query.term_query(self.schema, f, t))
                for f, t, _ in pairs[:rare]
            ]
        )
        clauses = [(tantivy.Occur.Must, required)]
        clauses += [
            (tantivy.Occur.Should, tantivy.Query.term_query(self.schema, f, t))
            for f, t, _ in frequent
        ]
        clauses += self._filter_clauses(flt)
        hits = searcher.search(tantivy.Query.boolean_query(clauses), limit=limit, count=False)
        found = hits.hits
        ceiling = sum(_idf(most, df) * (K1 + 1) for _, _, df in frequent) * (1 + 1e-4)
        if len(found) < limit or float(found[-1][0]) <= ceiling:
            return None
        return list(found)

    def _query(
        self,
        terms: Sequence[str],
        fields: Sequence[str],
        flt: LexicalFilter,
        within: Sequence[int] | None,
    ) -> tantivy.Query:
        """The text query, with the filters and ``within`` as clauses that must match and add
        nothing (unrestricted: the bare disjunction of its term queries)."""
        text = self._text_query(terms, fields)
        restrictions = self._filter_clauses(flt)
        if within is not None:
            restrictions.append(_filter(_docnos(self.schema, within)))
        if not restrictions:
            return text
        return tantivy.Query.boolean_query([(tantivy.Occur.Must, text), *restrictions])

    def highlight(self, query: str, text: str, max_chars: int = 240) -> str | None:
        """``text`` with the query's matched terms in ``<em>``, or None if nothing matches."""
        terms = set(self.terms(query))
        if not terms or not text:
            return None
        return highlight_terms(text, terms, self.analyzer, max_chars)

    def count(self) -> int:
        return int(self.index.searcher().num_docs)

    def close(self) -> None:
        if self._writer is not None:
            self.commit()


def _idf(n: int, df: int) -> float:
    """tantivy's BM25 idf of a term in ``df`` of ``n`` documents."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def _filter(query: tantivy.Query) -> tuple[tantivy.Occur, tantivy.Query]:
    """A clause that must match and adds nothing to the score (a bare term-set or range
    query would add a constant 1.0 to every hit's BM25, skewing the normalised score)."""
    return tantivy.Occur.Must, tantivy.Query.const_score_query(query, 0.0)


def _docnos(schema: tantivy.Schema, docnos: Sequence[int]) -> tantivy.Query:
    """Documents by docno: a few term queries are much cheaper than a term-set query (whose
    cost grows with the index, not with the set) until about a thousand."""
    if len(docnos) > WITHIN_TERMS:
        return tantivy.Query.term_set_query(schema, "docno", list(docnos))
    return tantivy.Query.boolean_query(
        [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "docno", d)) for d in docnos]
    )


def highlight_terms(
    text: str, terms: set[str], analyzer: tantivy.TextAnalyzer, max_chars: int
) -> str | None:
    """Wrap words whose analysed form is a query term in ``<em>``; a window around the first."""
    import html as html_lib
    import re

    words = list(re.finditer(r"\w+", text))
    hits = [m for m in words if any(t in terms for t in analyzer.analyze(m.group(0)))]
    if not hits:
        return None
    start = max(0, hits[0].start() - max_chars // 4)
    if start:
        space = text.rfind(" ", 0, start)
        start = space + 1 if space >= 0 else start
    end = min(len(text), start + max_chars)
    pieces, cursor = [], start
    for m in hits:
        if m.start() < start or m.end() > end:
            continue
        pieces.append(html_lib.escape(text[cursor : m.start()]))
        pieces.append(f"<em>{html_lib.escape(m.group(0))}</em>")
        cursor = m.end()
    pieces.append(html_lib.escape(text[cursor:end]))
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    return prefix + "".join(pieces) + suffix
