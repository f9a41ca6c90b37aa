"""The derived graphs of the catalog, wired together: the linker (kg.linking: links across
platforms, ``{base}/links/{id}``) over the link index (the database ``links``: ``links.sqlite``
beside the catalogue index, or the schema ``links`` of ``AIOD_KG_DATABASE``), with the metadata
quality book (kg.quality, ``{base}/quality/{id}``) and the suggestion book (kg.enrichment,
``{base}/suggestions/{id}``) following the same changes in the same database. The three
packages do not import each other: this module is the one that knows all three.
``open_linker`` attaches them to the catalog's change events (``reconcile`` first, in the
background); ``relink`` rebuilds them from the store (``aiod-kg relink``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kg.db.database import open_database
from kg.enrichment.book import SuggestionBook
from kg.linking.index import LinkIndex
from kg.linking.linker import Linker
from kg.quality.book import QualityBook
from kg.settings import Settings

if TYPE_CHECKING:
    from kg.catalog import Catalog


def links_path(settings: Settings) -> Path:
    """The SQLite file of the link index (when ``AIOD_KG_DATABASE`` does not hold it)."""
    from kg.store.backends import index_path

    return index_path(settings).parent / "links.sqlite"


def enrichment_enabled(settings: Settings) -> bool:
    """Suggestions need the search's embedding model: on when search is."""
    return settings.search_enabled


def open_linker(settings: Settings, catalog: Catalog, follow: bool = True) -> Linker:
    """The linker of ``catalog`` and its followers; ``follow``: reconcile and follow its
    changes in a thread."""
    linker = Linker(LinkIndex(open_database(settings, "links")), catalog.base_url, catalog)
    linker.followers.append(QualityBook(linker.index, catalog.base_url, catalog))
    if enrichment_enabled(settings):
        book = SuggestionBook(linker.index, catalog.base_url, catalog)
        linker.followers.append(book)
        if follow:
            book.start()  # the model in a thread of its own, batch by batch
    if follow:
        linker.attach(catalog)
    return linker


def relink(settings: Settings, catalog: Catalog) -> int:
    """Rebuild the derived part of the link index from the store (moderators' decisions on
    proposed duplicates and owners' decisions on suggestions are kept) and rewrite every
    derived graph; how many assets it indexed."""
    linker = open_linker(settings, catalog, follow=False)
    try:
        linker.index.clear_derived()
        for follower in linker.followers:
            if isinstance(follower, QualityBook | SuggestionBook):
                follower.clear()
        prefixes = (
            linker.graph_iri(""),
            f"{catalog.base_url}/quality/",
            f"{catalog.base_url}/suggestions/",
        )
        stale = [g for g in catalog.store.graph_names() if g.startswith(prefixes)]
        catalog.store.delete_graphs(stale)
        return linker.reconcile()
    finally:
        linker.close()
