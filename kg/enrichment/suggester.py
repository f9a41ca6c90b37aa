"""Suggesting taxonomy terms for one asset: the cosine similarity of the asset's text (name,
description, keywords) to each term of ``kg.enrichment.vocabulary``, with the search's
embedding model (all-MiniLM-L6-v2, ``kg.search.embed``; read-only use: the model, never the
search index). A term is suggested when it scores at least its field's threshold
(``THRESHOLDS``, picked on real records: bench/linking.py ``--enrichment``), at most
``PER_FIELD`` per field, never one the record already has."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kg.enrichment.vocabulary import Term, terms
from kg.model.fields import AssetType
from kg.search.embed import MINILM, Embedder, Vectors, get_embedder

JSON = dict[str, Any]
# cosine similarity floors per field (bench/linking.py --enrichment: on the 186 TFDS cards, 0.4
# gives 58 % of them a research area, the tags' area for 77 % -- the best precision of the floors
# tried, 0.3 gives 87 % one at 75 %; the other fields have no labels: a stricter floor)
THRESHOLDS = {"research_area": 0.4, "application_area": 0.45, "keyword": 0.45}
PER_FIELD = 2
TEXT_CHARS = 1200
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Suggestion:
    field: str
    term: str
    score: float


def text_of(data: JSON) -> str:
    """What the model reads of a record: its name, description and keywords."""
    description = data.get("description") or {}
    if isinstance(description, dict):
        body = description.get("plain") or _TAG.sub(" ", str(description.get("html") or ""))
    else:
        body = str(description)
    keywords = ", ".join(str(k) for k in data.get("keyword") or [] if isinstance(k, str))
    parts = [str(data.get("name") or ""), html.unescape(str(body)), keywords]
    return " ".join(" ".join(p.split()) for p in parts if p)[:TEXT_CHARS]


def _have(data: JSON, field: str) -> set[str]:
    values = data.get(field) or []
    return {str(v).strip().lower() for v in (values if isinstance(values, list) else [values])}


class Suggester:
    """Suggestions for records; the term vectors are computed once."""

    def __init__(
        self,
        embedder: Embedder | None = None,
        thresholds: dict[str, float] | None = None,
        per_field: int = PER_FIELD,
    ) -> None:
        self._embedder = embedder
        self.thresholds = thresholds or dict(THRESHOLDS)
        self.per_field = per_field
        self.terms = terms()
        self._vectors: Vectors | None = None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(MINILM)
        return self._embedder

    @property
    def term_vectors(self) -> Vectors:
        if self._vectors is None:
            self._vectors = self.embedder.encode([t.text for t in self.terms])
        return self._vectors

    def similarities(self, texts: Sequence[str]) -> Vectors:
        """``texts`` x terms cosine similarities."""
        vectors = self.embedder.encode(list(texts))
        return np.asarray(vectors @ self.term_vectors.T, dtype=np.float32)

    def suggest(self, asset: AssetType, data: JSON) -> list[Suggestion]:
        return self.suggest_many([(asset, data)])[0]

    def suggest_many(self, items: Sequence[tuple[AssetType, JSON]]) -> list[list[Suggestion]]:
        """The suggestions of each record, best first within each field."""
        texts = [text_of(data) for _, data in items]
        todo = [i for i, t in enumerate(texts) if t]
        out: list[list[Suggestion]] = [[] for _ in items]
        if not todo:
            return out
        scores = self.similarities([texts[i] for i in todo])
        for row, i in zip(scores, todo, strict=True):
            asset, data = items[i]
            out[i] = self._pick(asset, data, row)
        return out

    def _pick(self, asset: AssetType, data: JSON, row: Vectors) -> list[Suggestion]:
        found: list[Suggestion] = []
        counts: dict[str, int] = {}
        have = {f: _have(data, f) for f in self.thresholds}
        for j in np.argsort(-row):
            term: Term = self.terms[int(j)]
            value = float(row[j])
            floor = self.thresholds.get(term.field)
            if floor is None or value < floor or term.field not in asset.by_name:
                continue
            if counts.get(term.field, 0) >= self.per_field:
                continue
            if term.term.lower() in have[term.field]:
                continue
            counts[term.field] = counts.get(term.field, 0) + 1
            found.append(Suggestion(term.field, term.term, round(value, 4)))
        return found
