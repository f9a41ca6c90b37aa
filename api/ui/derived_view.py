"""What the UI shows of the derived graphs (issue 18: kg/linking, kg/quality, kg/enrichment).

* the search page: one hit per work with "also on: Zenodo, OpenML" (the other records of the
  work on the page are dropped, as ``GET /search`` does), each hit's quality badge, and the
  quality facet -- the ratings of the query's hits (those passing the relevance threshold,
  "unrated" for those not assessed yet), so its counts add up to the result count shown. The
  search index knows nothing of quality: the facet is applied to its hits, at most
  ``QUALITY_SCAN`` of them. A text query has at most that many (its candidate pool is fixed,
  ``kg.search.ranking.POOL`` per signal); browsing without text may have more, and then the
  facet's legend says it counts the first N of the total;
* the asset page: the quality badge with the advice, the "also on" box (asset_page.py) and,
  for whoever may change the asset, the suggested terms to accept or reject
  (asset_suggestions.html + static/suggestions.js, over ``/suggestions/{id}``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, cast

from fastapi import Request

from api.ui.search_page import FacetValue, Filters, SearchView, run_search
from kg.catalog import Catalog
from kg.enrichment.book import SuggestionBook
from kg.model.fields import ASSET_TYPES
from kg.quality.book import QualityBook
from kg.quality.indicators import RATINGS
from kg.search.index import SearchIndex, SearchQuery
from kg.search.ranking import POOL, Hit, SearchResults

UNRATED = "unrated"  # a hit the quality book has not assessed (yet)
RATING_NAMES = (*(name for name, _ in RATINGS), UNRATED)  # excellent, good, sufficient, bad
# hits of a query the quality facet counts and filters: every hit of a text query (at most the
# union of its three signals' pools)
QUALITY_SCAN = 3 * POOL


@dataclass
class QualityFilters(Filters):
    """The search page's filters plus the quality facet (``?quality=good``)."""

    quality: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return super().active or bool(self.quality)

    def params(self, **changes: Any) -> list[tuple[str, str]]:
        quality = changes.pop("quality", self.quality)
        return [*super().params(**changes), *(("quality", v) for v in quality or [])]


def quality_book(request: Request) -> QualityBook | None:
    linker = getattr(request.app.state, "linker", None)
    return next((f for f in getattr(linker, "followers", ()) if isinstance(f, QualityBook)), None)


def suggestion_book(request: Request) -> SuggestionBook | None:
    linker = getattr(request.app.state, "linker", None)
    found = (f for f in getattr(linker, "followers", ()) if isinstance(f, SuggestionBook))
    return next(found, None)


class _Kept:
    """A search index answering with a fixed list of hits (those of the quality facet)."""

    def __init__(self, index: SearchIndex, hits: list[Hit]) -> None:
        self.index = index
        self.hits = hits

    def search(self, q: SearchQuery, facets: bool = False) -> SearchResults:
        found = self.index.search(replace(q, offset=0, limit=1), facets=facets)
        return SearchResults(self.hits[q.offset : q.offset + q.limit], len(self.hits), found.facets)

    def highlight(self, query: str, text: str, max_chars: int = 240) -> str | None:
        return self.index.highlight(query, text, max_chars)


def _scan_query(filters: Filters) -> SearchQuery:
    return SearchQuery(
        filters.q,
        types=[t for t in filters.type if t in ASSET_TYPES],
        platforms=filters.platform,
        licenses=filters.license,
        keywords=filters.keyword,
        date_from=filters.date_from.toordinal() if filters.date_from else None,
        date_to=filters.date_to.toordinal() if filters.date_to else None,
        offset=0,
        limit=QUALITY_SCAN,
    )


def search_with_derived(
    request: Request, index: SearchIndex, catalog: Catalog, filters: QualityFilters, load: Any
) -> tuple[SearchView, dict[str, Any]]:
    """``run_search`` with the quality facet, one hit per work and the hits' badges; the
    view and the template's extra context (``also_on``, ``quality_of``)."""
    book = quality_book(request)
    source: Any = index
    counts: dict[str, int] = {}
    scanned = total = 0
    if book is not None:
        found = index.search(_scan_query(filters))
        scanned, total = len(found.hits), found.total
        ratings = book.ratings([h.identifier for h in found.hits])
        rating_of = {h.identifier: ratings.get(h.identifier, (UNRATED, 0.0))[0] for h in found.hits}
        for rating in rating_of.values():
            counts[rating] = counts.get(rating, 0) + 1
        if filters.quality:
            wanted = set(filters.quality)
            source = _Kept(index, [h for h in found.hits if rating_of[h.identifier] in wanted])
    view = run_search(cast(SearchIndex, source), catalog, filters, load)
    if book is not None and (counts or filters.quality):
        values = [
            FacetValue(name, counts.get(name, 0), name in filters.quality)
            for name in RATING_NAMES
            if counts.get(name) or name in filters.quality
        ]
        view.facets.append(("quality", quality_legend(scanned, total), values))
    also_on = _one_per_work(request, view)
    badges = book.ratings([r.identifier for r in view.results]) if book is not None else {}
    return view, {"also_on": also_on, "quality_of": badges}


def quality_legend(scanned: int, total: int) -> str:
    """The quality facet's legend: says so when it counts only the first hits."""
    if scanned >= total:
        return "Quality"
    return f"Quality (first {scanned:,} of {total:,})"


def _one_per_work(request: Request, view: SearchView) -> dict[str, list[dict[str, str]]]:
    """Drop the results whose work a better-ranked result on the page stands for; the others
    of each kept result's work (identifier, type, platform, name)."""
    linker = getattr(request.app.state, "linker", None)
    if linker is None:
        return {}
    shown: set[str] = set()
    kept = []
    also_on: dict[str, list[dict[str, str]]] = {}
    for result in view.results:
        if result.identifier in shown:
            continue
        try:
            others = linker.others(result.identifier)
        except Exception:  # the page never fails because of the link index
            others = []
        shown.add(result.identifier)
        shown.update(o["identifier"] for o in others)
        kept.append(result)
        if others:
            also_on[result.identifier] = others
    view.results = kept
    return also_on


def asset_derived(request: Request, identifier: str, public: bool) -> dict[str, Any]:
    """The asset page's extra context: its quality (public assets) and whether suggestions
    are on (the page's script asks for them with the reader's credentials)."""
    book = quality_book(request)
    quality = book.get(identifier) if book is not None and public else None
    return {"quality": quality, "suggestions_on": suggestion_book(request) is not None}
