"""The search index: hybrid (BM25 + dense) search over the catalog, kept in sync with it.

``SearchIndex`` is put together from three parts, one job each:

- ``kg.search.store``: what the index holds, embedding and writing documents, and its
  persistence (``<dir>/lexical``, ``dense.faiss``, ``docs.pkl``, ``meta.json``);
- ``kg.search.sync``: reconcile with the catalogue index on open, then follow the catalog's
  change events in a background thread (``flush()`` waits for it); ``rebuild()``;
- ``kg.search.ranking``: scoring a query (dense + labels + lexical fusion), filters, facets,
  similar documents.

``open_index(settings, catalog)`` opens the index beside the store and attaches it to the
catalog. The store is the source of truth: an index can always be dropped and rebuilt.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kg.search.ranking import (
    LEXICAL_WEIGHT,
    Hit,
    Mode,
    Ranking,
    SearchQuery,
    SearchResults,
)
from kg.search.store import FAST, FORMAT_VERSION
from kg.search.sync import CatalogSync

if TYPE_CHECKING:
    from kg.catalog import Catalog

__all__ = [
    "FAST",
    "FORMAT_VERSION",
    "LEXICAL_WEIGHT",
    "Hit",
    "Mode",
    "SearchIndex",
    "SearchQuery",
    "SearchResults",
    "open_index",
]


class SearchIndex(CatalogSync, Ranking):
    """Hybrid search over one catalog. Thread-safe."""


def open_index(settings: Any, catalog: Catalog | None = None) -> SearchIndex:
    """The search index of ``settings`` (beside the store), attached to ``catalog`` if given."""
    from kg.store.backends import index_path

    path = Path(settings.search_dir) if settings.search_dir else index_path(settings).parent
    index = SearchIndex(
        path / "search" if not settings.search_dir else path,
        model=settings.search_model,
        model_cache=settings.model_cache_path,
        hnsw_threshold=settings.search_hnsw_threshold,
        embedding_backend=settings.embedding_backend,
    )
    if catalog is not None:
        index.attach(catalog)
    return index
