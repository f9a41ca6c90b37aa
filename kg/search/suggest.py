"""Search-as-you-type suggestions: asset names that start with what was typed, and keywords.

The last word typed is a prefix (``imag`` finds "ImageNet" and "image classification"); the
words before it must match. Names come from the lexical index's ``name`` field, keywords from
the keyword postings, so suggestions cover exactly the (public) assets search covers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import tantivy

from kg.search.index import SearchIndex

MAX_PREFIX = 40
_WORD = re.compile(r"[^\W_]+")  # "oxford_flo" is two words, as names are indexed


@dataclass(frozen=True)
class NameSuggestion:
    identifier: str
    type: str


@dataclass(frozen=True)
class KeywordSuggestion:
    keyword: str
    count: int


def _last_word_query(index: SearchIndex, word: str) -> tantivy.Query:
    """The last (possibly unfinished) word: a prefix of an indexed term, or its stem."""
    lexical = index.lexical
    clauses = [
        (
            tantivy.Occur.Should,
            tantivy.Query.regex_query(lexical.schema, "name", re.escape(word) + ".*"),
        )
    ]
    for term in lexical.terms(word):
        clauses.append(
            (tantivy.Occur.Should, tantivy.Query.term_query(lexical.schema, "name", term))
        )
    return tantivy.Query.boolean_query(clauses)


def suggest_names(index: SearchIndex, text: str, limit: int = 6) -> list[NameSuggestion]:
    """Assets whose name contains the words typed, the last one as a prefix."""
    words = _WORD.findall(text.lower()[:200])
    if not words or limit <= 0:
        return []
    lexical = index.lexical
    last = words[-1][:MAX_PREFIX]
    clauses = [(tantivy.Occur.Must, _last_word_query(index, last))]
    for term in lexical.terms(" ".join(words[:-1])):
        clauses.append((tantivy.Occur.Must, tantivy.Query.term_query(lexical.schema, "name", term)))
    searcher = lexical.index.searcher()
    result = searcher.search(tantivy.Query.boolean_query(clauses), limit=limit * 2)
    out: list[NameSuggestion] = []
    with index._lock:
        cols = index.cols
        for _, address in result.hits:
            docno = int(searcher.doc(address)["docno"][0])
            if docno >= cols.n or not cols.alive[docno]:
                continue
            out.append(
                NameSuggestion(cols.identifiers[docno], index.types.values[cols.type[docno]])
            )
            if len(out) >= limit:
                break
    return out


def _words(text: str) -> str:
    """Lower-case words separated by single spaces (``Image-Classification`` ->
    ``image classification``)."""
    return " ".join(_WORD.findall(text.lower()))


def suggest_keywords(index: SearchIndex, text: str, limit: int = 4) -> list[KeywordSuggestion]:
    """Keywords that start with the text typed (or have a word that does), most used first."""
    prefix = _words(text)[:MAX_PREFIX]
    if len(prefix) < 2 or limit <= 0:
        return []
    found: list[KeywordSuggestion] = []
    with index._lock:
        alive = index.cols.alive
        for keyword, rows in index.keyword_postings.items():
            if f" {prefix}" in f" {_words(keyword)}":  # a word of it starts so
                count = sum(1 for r in rows if alive[r])
                if count:
                    found.append(KeywordSuggestion(keyword, count))
    found.sort(key=lambda k: (-k.count, k.keyword))
    return found[:limit]
