"""``open_linker`` / ``relink`` on a real store: the link index lives where the settings put it
(beside the catalogue index, or in AIOD_KG_DATABASE: ``--database=postgresql``), a rebuild
recomputes everything from the store and keeps the moderators' decisions."""

from __future__ import annotations

from kg.catalog import Catalog
from kg.derived import links_path, open_linker, relink
from kg.model.fields import ASSET_TYPES
from kg.settings import Settings

DATASETS = ASSET_TYPES["datasets"]


def test_relink_rebuilds_and_keeps_decisions(settings: Settings, catalog: Catalog) -> None:
    description = {"plain": "Daily rainfall of Alpine weather stations since 1950."}
    ids = [
        catalog.create(
            DATASETS,
            {
                "name": name,
                "platform": platform,
                "platform_resource_identifier": name,
                "description": description,
            },
        )
        for name, platform in (("Alpine rainfall", "zenodo"), ("Alpine Rainfall", "openml"))
    ]
    linker = open_linker(settings, catalog)
    assert linker.flush()
    # the link index where the settings put it
    assert links_path(settings).exists() == (settings.database is None)
    assert linker.index.db.dialect == ("sqlite" if settings.database is None else "postgresql")
    assert linker.index.db.columns("duplicates") >= {"id", "a", "b", "status"}
    (proposal,) = linker.duplicates()
    linker.decide(proposal["id"], "confirmed", "moderator", "2025-01-01T00:00:00")
    linker.close()

    assert relink(settings, catalog) == 2
    rebuilt = open_linker(settings, catalog, follow=False)
    assert [s.identifier for s in rebuilt.same_work(ids[0])] == [ids[1]]
    assert rebuilt.duplicates() == []  # decided, not proposed again
    assert catalog.store.graph(rebuilt.graph_iri(ids[0]))
    rebuilt.close()
