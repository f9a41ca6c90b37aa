"""The search page (``/``): one GET form -- the search box and the facets -- and a page of
results. It asks the same search index as ``GET /search`` and shows only public assets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from kg.search.index import SearchIndex, SearchQuery
from kg.search.text import description_of, name_of
from kg.sync.view import in_view, origin

PAGE_SIZE = 20
MAX_OFFSET = 100_000
SNIPPET_CHARS = 260
FACETS = (
    ("type", "Type"),
    ("platform", "Platform"),
    ("license", "Licence"),
    ("keyword", "Keyword"),
)


@dataclass
class Filters:
    q: str = ""
    type: list[str] = field(default_factory=list)
    platform: list[str] = field(default_factory=list)
    license: list[str] = field(default_factory=list)
    keyword: list[str] = field(default_factory=list)
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1

    @property
    def active(self) -> bool:
        return bool(
            self.type
            or self.platform
            or self.license
            or self.keyword
            or self.date_from
            or self.date_to
        )

    def params(self, **changes: Any) -> list[tuple[str, str]]:
        """The query parameters of these filters (``changes`` override), for links."""
        values: dict[str, Any] = {
            "q": self.q,
            "type": self.type,
            "platform": self.platform,
            "license": self.license,
            "keyword": self.keyword,
            "date_from": self.date_from,
            "date_to": self.date_to,
            "page": self.page,
        }
        values.update(changes)
        out: list[tuple[str, str]] = []
        for name, value in values.items():
            if isinstance(value, list):
                out.extend((name, v) for v in value)
            elif name == "page":
                if value and int(value) > 1:
                    out.append((name, str(value)))
            elif value:
                out.append((name, str(value)))
        return out

    def without(self, facet: str, value: str) -> list[tuple[str, str]]:
        """Parameters with one filter value removed (back to page 1)."""
        current = getattr(self, facet)
        if isinstance(current, list):
            return self.params(**{facet: [v for v in current if v != value]}, page=1)
        return self.params(**{facet: None}, page=1)


@dataclass
class FacetValue:
    value: str
    count: int
    checked: bool


@dataclass
class Result:
    identifier: str
    type: str
    name: str
    snippet: str  # HTML-safe: escaped text with <em> around matched words
    snippet_is_html: bool
    platform: str | None
    published: str | None
    license: str | None
    keywords: list[str]
    origin: dict[str, Any] = field(default_factory=dict)  # on a node (kg/sync/view.py)


@dataclass
class SearchView:
    filters: Filters
    total: int = 0
    results: list[Result] = field(default_factory=list)
    facets: list[tuple[str, str, list[FacetValue]]] = field(default_factory=list)
    pages: list[int | None] = field(default_factory=list)  # None: a gap (…)
    last_page: int = 1
    error: str | None = None


def page_numbers(current: int, last: int) -> list[int | None]:
    """1 … current-2 … current+2 … last."""
    shown = {1, last, *range(max(1, current - 2), min(last, current + 2) + 1)}
    out: list[int | None] = []
    previous = 0
    for number in sorted(shown):
        if number - previous > 1:
            out.append(None)
        out.append(number)
        previous = number
    return out


def _keywords(data: dict[str, Any]) -> list[str]:
    values = data.get("keyword")
    return [str(k) for k in values if isinstance(k, str)][:6] if isinstance(values, list) else []


def run_search(index: SearchIndex, catalog: Catalog, filters: Filters, load: Any) -> SearchView:
    """Search with ``filters``; ``load(catalog, type, identifier)`` gives a public asset's
    AIoD JSON or None (``api.routes.search._load``)."""
    view = SearchView(filters)
    types = [t for t in filters.type if t in ASSET_TYPES]
    offset = min((filters.page - 1) * PAGE_SIZE, MAX_OFFSET)
    query = SearchQuery(
        filters.q,
        types=types,
        platforms=filters.platform,
        licenses=filters.license,
        keywords=filters.keyword,
        date_from=filters.date_from.toordinal() if filters.date_from else None,
        date_to=filters.date_to.toordinal() if filters.date_to else None,
        offset=offset,
        limit=PAGE_SIZE,
    )
    found = index.search(query, facets=True)
    view.total = found.total
    for hit in found.hits:
        data = load(catalog, hit.type, hit.identifier)
        if data is None or not in_view(catalog.settings, data.get("platform")):
            continue  # (a node's local view leaves the mirrored central catalogue out)
        description = description_of(data)
        snippet = index.highlight(filters.q, description, SNIPPET_CHARS) if filters.q else None
        is_html = snippet is not None
        if snippet is None:
            snippet = description[:SNIPPET_CHARS] + (
                "…" if len(description) > SNIPPET_CHARS else ""
            )
        license_value = data.get("license")
        view.results.append(
            Result(
                identifier=hit.identifier,
                type=hit.type,
                name=name_of(data),
                snippet=snippet,
                snippet_is_html=is_html,
                platform=data.get("platform") if isinstance(data.get("platform"), str) else None,
                published=data.get("date_published") or None,
                license=license_value if isinstance(license_value, str) else None,
                keywords=_keywords(data),
                origin=origin(catalog.settings, data.get("platform")),
            )
        )
    for name, label in FACETS:
        counts = dict(found.facets.get(name, {}))
        selected = [v.lower() if name == "keyword" else v for v in getattr(filters, name)]
        for value in selected:  # a chosen value stays visible even outside the top counts
            counts.setdefault(value, 0)
        values = [FacetValue(v, c, v in selected) for v, c in counts.items()]
        if values:
            view.facets.append((name, label, values))
    view.last_page = max(1, min(-(-view.total // PAGE_SIZE), MAX_OFFSET // PAGE_SIZE + 1))
    view.pages = page_numbers(min(filters.page, view.last_page), view.last_page)
    return view
