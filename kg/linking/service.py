"""Opening the linker of a catalog: the link index ``links.sqlite`` beside the catalogue
index, with the metadata quality book (kg.quality) following the same changes, attached to
the catalog's change events (``reconcile`` first, in the background), or rebuilt from the
store (``aiod-kg relink``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kg.linking.index import LinkIndex
from kg.linking.linker import Linker
from kg.quality.book import QualityBook
from kg.settings import Settings

if TYPE_CHECKING:
    from kg.catalog import Catalog


def links_path(settings: Settings) -> Path:
    from kg.store.backends import index_path

    return index_path(settings).parent / "links.sqlite"


def open_linker(settings: Settings, catalog: Catalog, follow: bool = True) -> Linker:
    """The linker of ``catalog``; ``follow``: reconcile and follow its changes in a thread."""
    linker = Linker(LinkIndex(links_path(settings)), catalog.base_url, catalog)
    linker.followers.append(QualityBook(linker.index, catalog.base_url, catalog))
    if follow:
        linker.attach(catalog)
    return linker


def relink(settings: Settings, catalog: Catalog) -> int:
    """Rebuild the derived part of the link index from the store (moderators' decisions on
    proposed duplicates are kept) and rewrite every derived graph; how many assets it indexed."""
    linker = open_linker(settings, catalog, follow=False)
    try:
        linker.index.clear_derived()
        for follower in linker.followers:
            if isinstance(follower, QualityBook):
                follower.clear()
        prefixes = (linker.graph_iri(""), f"{catalog.base_url}/quality/")
        stale = [g for g in catalog.store.graph_names() if g.startswith(prefixes)]
        catalog.store.delete_graphs(stale)
        return linker.reconcile()
    finally:
        linker.close()
