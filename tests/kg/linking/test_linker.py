"""The linker against a real catalog (pyoxigraph store): claims resolve when their target
arrives, a shared DOI makes one work across platforms, likely duplicates are only proposed
until a moderator confirms them, and the derived link graph is in the public store."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kg.catalog import Catalog
from kg.db.database import open_database
from kg.linking.identifiers import keys_of
from kg.linking.index import LinkIndex
from kg.linking.linker import SAME_AS, Linker
from kg.linking.similarity import Candidate, name_bound, score
from kg.model.fields import ASSET_TYPES
from kg.model.rdf_mapping import IRI

DATASETS, MODELS = ASSET_TYPES["datasets"], ASSET_TYPES["ml_models"]
TRAINED_ON = "https://w3id.org/fair4ml#trainedOn"


def link_index(catalog: Catalog) -> LinkIndex:
    """In memory, or in the test's PostgreSQL database (``--database=postgresql``)."""
    settings = catalog.settings
    return LinkIndex(None if settings.database is None else open_database(settings, "links"))


def _linker(catalog: Catalog) -> Linker:
    linker = Linker(link_index(catalog), catalog.base_url)
    linker.attach(catalog)
    return linker


def test_keys() -> None:
    assert keys_of("https://doi.org/10.5281/zenodo.7902673") == [
        "doi:10.5281/zenodo.7902673",
        "zenodo:7902673",
    ]
    assert keys_of("https://zenodo.org/records/7902673") == ["zenodo:7902673"]
    assert keys_of("http://arxiv.org/abs/1810.04805v2") == ["arxiv:1810.04805"]
    assert keys_of("https://huggingface.co/datasets/GLUE/") == ["hf-dataset:glue"]
    assert keys_of("https://www.openml.org/search?type=data&id=61") == ["openml-data:61"]


def test_claims_resolve_when_the_target_arrives(catalog: Catalog) -> None:
    linker = _linker(catalog)
    model = catalog.create(
        MODELS,
        {
            "name": "bert",
            "platform": "huggingface",
            "platform_resource_identifier": "m1",
            "trained_on": ["https://huggingface.co/datasets/glue"],
        },
    )
    assert linker.flush()
    assert linker.pending(model) == [("trained_on", "https://huggingface.co/datasets/glue")]
    data = catalog.create(
        DATASETS,
        {
            "name": "glue",
            "platform": "huggingface",
            "platform_resource_identifier": "d1",
            "same_as": "https://huggingface.co/datasets/glue",
        },
    )
    assert linker.flush()
    assert linker.pending(model) == []
    assert [(p, t) for p, t, _ in linker.resolved(model)] == [(TRAINED_ON, data)]
    graph = catalog.store.graph(linker.graph_iri(model))
    assert (catalog.iri(MODELS, model), TRAINED_ON, IRI(catalog.iri(DATASETS, data))) in graph
    catalog.delete(DATASETS, data)
    assert linker.flush()
    assert linker.pending(model) and not catalog.store.graph(linker.graph_iri(model))


def test_same_doi_is_one_work_and_lookalikes_are_only_proposed(catalog: Catalog) -> None:
    linker = _linker(catalog)
    zenodo = catalog.create(
        DATASETS,
        {
            "name": "Mall customers",
            "platform": "zenodo",
            "platform_resource_identifier": "oai:zenodo.org:7",
            "pid": "https://doi.org/10.5281/zenodo.7",
            "description": {"plain": "Customers of a shopping mall with age and income."},
        },
    )
    mirror = catalog.create(
        DATASETS,
        {
            "name": "mall-customers",
            "platform": "data.example.org",
            "platform_resource_identifier": "x1",
            "relevant_link": ["https://zenodo.org/records/8"],
            "same_as": "https://zenodo.org/records/7",
            "description": {"plain": "Customers of a shopping mall with age and income."},
        },
    )
    lookalike = catalog.create(
        DATASETS,
        {
            "name": "Mall Customers",
            "platform": "openml",
            "platform_resource_identifier": "42",
            "description": {"plain": "Customers of a shopping mall, with age and income"},
        },
    )
    assert linker.flush()
    assert [s.identifier for s in linker.same_work(zenodo)] == [mirror]
    graph = catalog.store.graph(linker.graph_iri(zenodo))
    assert (catalog.iri(DATASETS, zenodo), SAME_AS, IRI(catalog.iri(DATASETS, mirror))) in graph
    proposals = linker.duplicates()
    pairs = [set(p["identifiers"]) for p in proposals]
    assert {zenodo, lookalike} in pairs and {zenodo, mirror} not in pairs
    assert lookalike not in linker.work(zenodo)  # never merged silently
    proposal = next(p for p in proposals if set(p["identifiers"]) == {zenodo, lookalike})
    decided = linker.decide(proposal["id"], "confirmed", "moderator", "2025-01-01T00:00:00")
    assert decided is not None and decided["status"] == "confirmed"
    assert sorted(linker.work(zenodo)) == sorted([zenodo, mirror, lookalike])


@settings(max_examples=300, deadline=None)
@given(
    names=st.tuples(
        st.text(alphabet="abc 12-/XyZé", max_size=20), st.text(alphabet="abc 12-/XyZé", max_size=20)
    ),
    descriptions=st.tuples(st.text(max_size=40), st.text(max_size=40)),
    creators=st.tuples(
        st.frozensets(st.sampled_from("pqr")), st.frozensets(st.sampled_from("pqr"))
    ),
    files=st.tuples(
        st.frozensets(st.sampled_from(["sha:1", "name:a.csv", "name:config.json"])),
        st.frozensets(st.sampled_from(["sha:1", "name:a.csv", "name:b.csv"])),
    ),
)
def test_the_name_bound_is_never_below_the_score(
    names: tuple[str, str],
    descriptions: tuple[str, str],
    creators: tuple[frozenset[str], frozenset[str]],
    files: tuple[frozenset[str], frozenset[str]],
) -> None:
    """Linker.propose drops candidates whose names alone cannot reach the threshold: sound
    only if no description, creator or file can lift a score above the bound."""
    a = Candidate("a", names[0], descriptions[0], creators[0], files[0])
    b = Candidate("b", names[1], descriptions[1], creators[1], files[1])
    assert score(a, b)[0] <= name_bound(a.name, b.name) + 1e-4
