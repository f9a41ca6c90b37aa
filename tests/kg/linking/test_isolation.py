"""The derived link graphs never expose a non-public asset: a draft or restricted record that
shares a DOI with a public one, or that a public model claims it was trained on, appears in
no derived graph (nor in the link index); published, it is linked; withdrawn, unlinked."""

from __future__ import annotations

from typing import Any

from kg.catalog import Catalog
from kg.db.database import open_database
from kg.linking.index import LinkIndex
from kg.linking.linker import SAME_AS, Linker
from kg.model.fields import ASSET_TYPES
from kg.model.rdf_mapping import IRI

DATASETS, MODELS = ASSET_TYPES["datasets"], ASSET_TYPES["ml_models"]
DOI = "https://doi.org/10.1234/shared.1"


def link_index(catalog: Catalog) -> LinkIndex:
    """In memory, or in the test's PostgreSQL database (``--database=postgresql``)."""
    settings = catalog.settings
    return LinkIndex(None if settings.database is None else open_database(settings, "links"))


def _public_mentions(catalog: Catalog, iri: str) -> list[str]:
    """The public store's graphs mentioning ``iri`` anywhere."""
    found = []
    for name in catalog.store.public.graph_names():
        for triple in catalog.store.public.graph(name):
            if triple[0] == iri or triple[2] in (iri, IRI(iri)):
                found.append(name)
                break
    return found


def _dataset(name: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "platform": "example",
        "platform_resource_identifier": name,
        "same_as": DOI,
        "description": {"plain": "Sensor readings of a wind farm, hourly."},
        "aiod_entry": {"status": status},
        **extra,
    }


def test_links_only_between_public_assets(catalog: Catalog) -> None:
    linker = Linker(link_index(catalog), catalog.base_url)
    linker.attach(catalog)
    public = catalog.create(DATASETS, _dataset("wind farm", "published"))
    draft = catalog.create(DATASETS, _dataset("wind farm draft", "draft"))
    model = catalog.create(
        MODELS,
        {"name": "wind model", "platform": "example", "platform_resource_identifier": "m"},
    )
    assert linker.flush()
    draft_iri = catalog.iri(DATASETS, draft)
    assert linker.index.asset(draft) is None and linker.same_work(public) == []
    assert _public_mentions(catalog, draft_iri) == []
    assert not catalog.store.graph(linker.graph_iri(draft))
    assert [p["identifiers"] for p in linker.duplicates()] == []  # not even proposed

    # published: the same work as the public record, in both derived graphs
    data = catalog.get(DATASETS, draft)
    data["aiod_entry"]["status"] = "published"
    catalog.replace(DATASETS, draft, data)
    assert linker.flush()
    assert [s.identifier for s in linker.same_work(public)] == [draft]
    public_graph = catalog.store.graph(linker.graph_iri(public))
    assert (catalog.iri(DATASETS, public), SAME_AS, IRI(draft_iri)) in public_graph
    assert linker.graph_iri(public) in _public_mentions(catalog, draft_iri)

    # withdrawn to a draft again: gone from every derived graph and from the index
    data["aiod_entry"]["status"] = "draft"
    catalog.replace(DATASETS, draft, data)
    assert linker.flush()
    assert linker.index.asset(draft) is None
    assert _public_mentions(catalog, draft_iri) == []
    assert not catalog.store.graph(linker.graph_iri(public))
    assert linker.iri(model) is not None  # public assets stay indexed
    linker.close()
