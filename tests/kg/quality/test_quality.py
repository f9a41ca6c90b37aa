"""The MQA-style score (kg.quality): indicators on real records, the book following a real
catalog through the linker (recomputed on change, public assets only) and its W3C DQV graph."""

from __future__ import annotations

from typing import Any

from kg.catalog import Catalog
from kg.db.database import open_database
from kg.linking.index import LinkIndex
from kg.linking.linker import Linker
from kg.model.fields import ASSET_TYPES
from kg.model.rdf_mapping import IRI, Lit
from kg.quality.book import DQV, XSD_DECIMAL, QualityBook
from kg.quality.indicators import DIMENSIONS, INDICATORS, assess

DATASETS, PERSONS = ASSET_TYPES["datasets"], ASSET_TYPES["persons"]
RICH: dict[str, Any] = {
    "name": "Wind farm output",
    "platform": "zenodo",
    "platform_resource_identifier": "w1",
    "description": {"plain": "Hourly output of a wind farm."},
    "keyword": ["wind", "energy"],
    "research_area": ["Machine learning"],
    "spatial_coverage": {"address": {"country": "NLD"}},
    "temporal_coverage": "2015/2020",
    "same_as": "https://zenodo.org/records/1",
    "pid": "https://doi.org/10.5281/zenodo.1",
    "distribution": [
        {
            "content_url": "https://zenodo.org/records/1/files/output.csv",
            "encoding_format": "text/csv",
            "content_size_kb": 1200,
            "copyright": "The wind farm",
        }
    ],
    "license": "https://creativecommons.org/licenses/by/4.0/",
    "is_accessible_for_free": True,
    "contact": [],
    "creator": [],
    "date_published": "2021-05-01T00:00:00",
}


def link_index(catalog: Catalog) -> LinkIndex:
    """In memory, or in the test's PostgreSQL database (``--database=postgresql``)."""
    settings = catalog.settings
    return LinkIndex(None if settings.database is None else open_database(settings, "links"))


def test_points_follow_mqa() -> None:
    most = {d: sum(i.points for i in INDICATORS if i.dimension == d) for d in DIMENSIONS}
    assert most == {
        "findability": 100,
        "accessibility": 100,
        "interoperability": 110,
        "reusability": 75,
        "contextuality": 20,
    }


def test_a_rich_record_scores_better_than_a_bare_one() -> None:
    rich = assess(DATASETS, {**RICH, "aiod_entry": {"date_modified": "2024-01-01T00:00:00"}})
    bare = assess(DATASETS, {"name": "x", "platform": "example"})
    assert rich.max_points == bare.max_points == 405
    assert rich.score > 0.8 and rich.rating in ("excellent", "good")
    assert rich.problems[:2] == ["contact_point", "publisher"]  # the lists are empty
    assert bare.score < 0.3 and bare.rating == "bad"
    assert bare.problems[0] in ("keyword", "theme", "access_url")
    assert bare.results["shacl"] == 1.0  # what is stored has passed validation
    # proprietary formats lose the non-proprietary points only
    excel = {**RICH, "distribution": [{"content_url": "https://x.org/a.xlsx", "name": "a.xlsx"}]}
    assert assess(DATASETS, excel).results["non_proprietary"] == 0.0
    assert assess(DATASETS, excel).results["machine_readable"] == 1.0


def test_indicators_a_type_lacks_do_not_count() -> None:
    person = assess(PERSONS, {"name": "Ada", "platform": "example"})
    assert "spatial" not in person.results and "format" not in person.results
    assert person.max_points < 405


def test_the_book_follows_public_changes_with_dqv(catalog: Catalog) -> None:
    linker = Linker(link_index(catalog), catalog.base_url)
    book = QualityBook(linker.index, catalog.base_url, catalog)
    linker.followers.append(book)
    linker.attach(catalog)
    good = catalog.create(DATASETS, RICH)
    draft = catalog.create(
        DATASETS,
        {
            "name": "secret",
            "platform": "example",
            "platform_resource_identifier": "d",
            "aiod_entry": {"status": "draft"},
        },
    )
    assert linker.flush()
    assert book.get(draft) is None and not catalog.store.graph(book.graph_iri(draft))
    found = book.get(good)
    assert found is not None and found["score"] > 0.8
    assert "Name a contact." in found["advice"]
    graph = catalog.store.graph(book.graph_iri(good))
    iri = catalog.iri(DATASETS, good)
    node = f"{book.graph_iri(good)}#score"
    assert (iri, DQV + "hasQualityMeasurement", IRI(node)) in graph
    assert (node, DQV + "isMeasurementOf", IRI(book.metric_iri("score"))) in graph
    assert (node, DQV + "value", Lit(f"{found['score']:.4f}", XSD_DECIMAL)) in graph

    # recomputed on change: a dropped licence lowers the score and becomes a problem
    data = catalog.get(DATASETS, good)
    del data["license"]
    catalog.replace(DATASETS, good, data)
    assert linker.flush()
    after = book.get(good)
    assert after is not None and after["score"] < found["score"]
    summary = book.summary(type_="datasets")
    assert summary["assets"] == 1 and summary["groups"][0]["platform"] == "zenodo"
    assert {p["indicator"] for p in summary["problems"]} >= {"license", "contact_point"}
    assert book.summary(platform="openml")["assets"] == 0

    catalog.delete(DATASETS, good)
    assert linker.flush()
    assert book.get(good) is None and not catalog.store.graph(book.graph_iri(good))
    linker.close()
