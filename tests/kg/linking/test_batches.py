"""The linker follows changes in batches (issue 16): a batch leaves the link index, the
proposals, the quality book and the derived graphs as following the same changes one by one
does; blocking a batch at once finds each asset's candidates as blocking it alone; a batch
that fails leaves nothing of itself committed; ``reconcile`` catches up page by page."""

from __future__ import annotations

from typing import Any

import pytest

from kg.catalog import Catalog
from kg.derived import open_linker
from kg.linking import index as index_module
from kg.linking.index import LinkIndex
from kg.linking.linker import Change, Linker
from kg.model.fields import ASSET_TYPES
from kg.quality.book import QualityBook
from tests.kg.linking.test_linker import link_index

DATASETS, MODELS = ASSET_TYPES["datasets"], ASSET_TYPES["ml_models"]
TABLES = ("assets", "keys", "claims", "tokens")


def records() -> list[tuple[str, str, dict[str, Any]]]:
    """Datasets and models with shared DOIs, claims, look-alike names and a draft."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    for i in range(12):
        out.append(
            (
                "datasets",
                f"d{i}",
                {
                    "name": f"mfeat fourier {i % 4}" if i % 3 else f"glue benchmark {i}",
                    "platform": "openml" if i % 2 else "zenodo",
                    "description": {"plain": f"Handwritten numerals, Fourier coefficients {i % 4}"},
                    "same_as": f"https://doi.org/10.5281/zenodo.{100 + i % 5}",
                },
            )
        )
    for i in range(6):
        out.append(
            (
                "ml_models",
                f"m{i}",
                {
                    "name": f"bert base {i % 2}",
                    "platform": "huggingface",
                    "trained_on": [f"https://doi.org/10.5281/zenodo.{100 + i}"],
                },
            )
        )
    out.append(("datasets", "draft", {"name": "glue", "aiod_entry": {"status": "draft"}}))
    return out


def state(linker: Linker) -> dict[str, list[tuple[object, ...]]]:
    found = {t: sorted(linker.index.query(f"SELECT * FROM {t}")) for t in TABLES}
    found["duplicates"] = sorted(
        linker.index.query("SELECT a, b, type, score, status FROM duplicates")
    )
    return found


def test_a_batch_indexes_and_proposes_as_one_by_one() -> None:
    one, batch = Linker(LinkIndex(None), "http://x"), Linker(LinkIndex(None), "http://x")
    for collection, identifier, data in records():
        one.update(collection, identifier, data)
    batch.follow([Change(*r) for r in records()])
    assert state(batch) == state(one)
    assert state(batch)["duplicates"], "look-alike names are proposed"
    assert batch.same_work("d0") == one.same_work("d0") and batch.same_work("d0")
    # a second batch removing and re-adding assets: still the same state
    again = [Change("datasets", "d1", None), Change(*records()[2])]
    one.remove("d1")
    one.update(*records()[2])
    batch.follow(again)
    assert state(batch) == state(one)


def test_blocking_a_batch_finds_what_blocking_each_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "BLOCK_MAX_DF", 5)  # "dataset" and "node" stop blocking
    linker = Linker(LinkIndex(None), "http://x")
    names = [f"node dataset {i}" for i in range(10, 19)] + ["node datasets", "nodes dataset 12"]
    linker.follow([Change("datasets", f"d{i}", {"name": n}) for i, n in enumerate(names)])
    linker.follow([Change("ml_models", "m0", {"name": "node dataset 12"})])
    wanted = [("d2", "datasets", "node dataset 12"), ("d10", "datasets", "nodes dataset 12")]
    wanted.append(("m0", "ml_models", "node dataset 12"))
    fresh = Linker(LinkIndex(None), "http://x")  # no frequent tokens remembered yet
    fresh.follow([Change("datasets", f"d{i}", {"name": n}) for i, n in enumerate(names)])
    fresh.follow([Change("ml_models", "m0", {"name": "node dataset 12"})])
    many = fresh.index.candidates_many(wanted, limit=4)
    for identifier, type_, name in wanted:
        alone = linker.index.candidates(identifier, type_, name, limit=4)
        assert many[identifier] == alone
    assert many["d2"] == [("d10", "nodes dataset 12")]  # "12" still blocks, not themselves
    assert many["m0"] == []  # candidates are of the asset's own type
    assert {"node", "dataset"} <= fresh.index._frequent


class Failing:
    """A follower whose batch fails after the linker has written its rows."""

    def follow(self, changes: Any) -> None:
        raise RuntimeError("disk full")

    def modified(self) -> dict[str, str]:
        return {}


def test_a_failed_batch_commits_nothing_and_reconcile_catches_up(catalog: Catalog) -> None:
    linker = Linker(link_index(catalog), catalog.base_url, catalog)
    book = QualityBook(linker.index, catalog.base_url, catalog)
    linker.followers += [book, Failing()]
    first = catalog.create(DATASETS, {"name": "a", "same_as": "https://doi.org/10.5281/zenodo.9"})
    second = catalog.create(MODELS, {"name": "b", "same_as": "https://doi.org/10.5281/zenodo.9"})
    changes = [Change("datasets", first, catalog.get(DATASETS, first))]
    changes.append(Change("ml_models", second, catalog.get(MODELS, second)))
    with pytest.raises(RuntimeError):
        linker.follow(changes)
    assert linker.index.modified() == {} and book.modified() == {}
    linker.followers.pop()
    assert linker.reconcile() == 2
    assert set(linker.index.modified()) == {first, second} == set(book.modified())
    assert catalog.store.graph(linker.graph_iri(first))
    assert catalog.store.graph(book.graph_iri(second))
    linker.close()


def test_reconcile_catches_up_page_by_page(catalog: Catalog) -> None:
    saved = catalog.save_many(
        DATASETS,
        [
            {"name": f"set {i}", "platform": "p", "platform_resource_identifier": str(i)}
            for i in range(70)
        ]
        + [{"name": "hidden", "aiod_entry": {"status": "draft"}}],
    )
    ids = [str(r.identifier) for r in saved]
    linker = open_linker(catalog.settings, catalog, follow=False)
    book = next(f for f in linker.followers if isinstance(f, QualityBook))
    assert linker.reconcile() == 70
    assert set(linker.index.modified()) == set(ids[:70]) == set(book.modified())
    assert all(catalog.store.graph(book.graph_iri(i)) for i in ids[:70])
    assert linker.reconcile(batch=8) == 0  # nothing changed
    for identifier in ids[:20]:
        catalog.delete(DATASETS, identifier)
    assert linker.reconcile(batch=8) == 20
    assert set(book.modified()) == set(ids[20:70])
    assert not catalog.store.graph(book.graph_iri(ids[0]))
    linker.close()
