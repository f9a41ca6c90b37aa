"""Search: text extraction, the hybrid index kept in sync with the catalog, persistence and
staleness, the API (AIoD /search/{type}, /search, /similar) and the CLI.

The MiniLM model is loaded once per test process (``kg.search.embed.get_embedder`` caches it),
so only the first test pays its load time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from kg.search.index import SearchIndex, SearchQuery, open_index
from kg.search.text import document_of, label_text
from kg.settings import Settings
from tests.support.data import SEARCH_EVAL

DATASETS = ASSET_TYPES["datasets"]
PUBLICATIONS = ASSET_TYPES["publications"]

RECORDS = [
    (
        "speech",
        "LibriSpeech",
        "Read English speech: audio recordings of audiobooks with their "
        "transcripts, for training automatic speech recognition.",
        ["ml.task.speech-recognition", "audio"],
        "https://creativecommons.org/licenses/by/4.0/",
        "2015-04-01T00:00:00",
    ),
    (
        "flowers",
        "oxford_flowers102",
        "Photographs of 102 flower species from the United "
        "Kingdom, for fine-grained image classification.",
        ["ml.task.image-classification", "image"],
        "https://opensource.org/licenses/MIT",
        "2008-12-01T00:00:00",
    ),
    (
        "squad",
        "SQuAD",
        "Questions posed by crowdworkers on Wikipedia articles; the answer to "
        "every question is a span of the passage.",
        ["ml.task.question-answering", "text"],
        "https://creativecommons.org/licenses/by/4.0/",
        "2016-06-01T00:00:00",
    ),
    (
        "plants",
        "plant_village",
        "Leaf images of healthy and diseased crop plants, labelled by disease.",
        ["ml.task.image-classification", "image"],
        "https://opensource.org/licenses/MIT",
        "2019-01-01T00:00:00",
    ),
    (
        "wmt",
        "wmt14_translate",
        "Parallel sentences in English and German for machine translation.",
        ["ml.task.machine-translation", "text"],
        "https://creativecommons.org/licenses/by/4.0/",
        "2014-06-01T00:00:00",
    ),
]


def record(
    key: str,
    name: str,
    description: str,
    keywords: list[str],
    license_: str,
    published: str,
    platform: str = "example",
    status: str = "published",
) -> dict[str, Any]:
    return {
        "platform": platform,
        "platform_resource_identifier": key,
        "name": name,
        "description": {"plain": description},
        "keyword": keywords,
        "license": license_,
        "date_published": published,
        "aiod_entry": {"status": status},
    }


def load(catalog: Catalog, extra: list[dict[str, Any]] | None = None) -> dict[str, str]:
    records = [record(*r) for r in RECORDS] + (extra or [])
    results = catalog.save_many(DATASETS, records, mode="upsert")
    assert all(r.ok for r in results), [r for r in results if not r.ok]
    return {records[r.index]["platform_resource_identifier"]: str(r.identifier) for r in results}


@pytest.fixture
def search(settings: Settings, catalog: Catalog) -> Iterator[SearchIndex]:
    index = open_index(settings, catalog)
    try:
        yield index
    finally:
        index.close()


def top(index: SearchIndex, text: str, **kw: Any) -> list[str]:
    return [h.identifier for h in index.search(SearchQuery(text, **kw)).hits]


# --------------------------------------------------------------------------- text


def test_document_text_and_facets() -> None:
    doc = document_of(
        "datasets",
        "data_x",
        {
            "name": "image_net",
            "description": {"html": "<p>Pictures &amp; labels</p>"},
            "keyword": ["ml.task.image-classification", "vision"],
            "research_area": ["Vision"],
            "license": "MIT",
            "platform": "hf",
            "date_published": "2020-02-03T00:00:00",
            "aiod_entry": {"date_modified": "2024-01-01T00:00:00"},
        },
    )
    assert doc.name == "image_net" and doc.description == "Pictures & labels"
    assert doc.keywords == ("ml.task.image-classification", "vision")
    assert "Vision" in doc.labels and doc.license == "MIT" and doc.platform == "hf"
    assert doc.date is not None and doc.date_modified == "2024-01-01T00:00:00"
    assert "image net" in doc.dense_text and "image classification" in doc.dense_text
    assert label_text("ml.task.image-classification") == "image classification"
    assert label_text("v1.2") == "v1 2"


# --------------------------------------------------------------------------- index


def test_hybrid_search_follows_catalog_writes(catalog: Catalog, search: SearchIndex) -> None:
    ids = load(catalog)
    assert search.flush()
    assert top(search, "spoken audio with transcripts")[0] == ids["speech"]
    assert top(search, "diseases of plant leaves")[0] == ids["plants"]
    assert top(search, "SQuAD", mode="lexical")[0] == ids["squad"]
    assert top(search, "translate between languages")[0] == ids["wmt"]

    # update: the new text is found, the old is not
    changed = record(
        "speech",
        "LibriSpeech",
        "Satellite pictures of farmland.",
        [],
        "https://opensource.org/licenses/MIT",
        "2015-04-01T00:00:00",
    )
    catalog.save_many(DATASETS, [changed], mode="upsert")
    assert search.flush()
    assert top(search, "satellite farmland")[0] == ids["speech"]
    assert ids["speech"] not in top(search, "transcripts", mode="lexical")

    catalog.delete(DATASETS, ids["squad"])
    assert search.flush()
    assert ids["squad"] not in top(search, "questions about Wikipedia passages", limit=10)
    assert len(search) == len(RECORDS) - 1


def test_filters_and_facets(catalog: Catalog, search: SearchIndex) -> None:
    ids = load(
        catalog,
        [
            record(
                "other",
                "Flower photos",
                "More photographs of flowers.",
                ["image"],
                "https://opensource.org/licenses/MIT",
                "2021-01-01T00:00:00",
                platform="zenodo",
            )
        ],
    )
    search.flush()
    assert top(search, "flowers", platforms=["zenodo"]) == [ids["other"]]
    mit = set(top(search, "images", licenses=["https://opensource.org/licenses/MIT"]))
    assert mit == {ids["flowers"], ids["plants"], ids["other"]}
    assert set(top(search, "data", keywords=["ML.TASK.IMAGE-CLASSIFICATION"])) == {
        ids["flowers"],
        ids["plants"],
    }
    from datetime import date

    recent = top(
        search,
        "data",
        date_from=date(2016, 1, 1).toordinal(),
        date_to=date(2019, 12, 31).toordinal(),
    )
    assert set(recent) == {ids["squad"], ids["plants"]}
    assert top(search, "data", types=["publications"]) == []
    results = search.search(SearchQuery("flower photographs"), facets=True)
    assert results.facets["type"] == {"datasets": results.total}
    assert results.facets["platform"]["zenodo"] == 1
    assert "image" in results.facets["keyword"]
    # no text: the filtered assets
    browse = search.search(SearchQuery("", platforms=["zenodo"]))
    assert [h.identifier for h in browse.hits] == [ids["other"]] and browse.total == 1


def test_drafts_are_not_searchable(catalog: Catalog, search: SearchIndex) -> None:
    draft = record(
        "secret",
        "Secret flowers",
        "Unpublished flower photographs.",
        [],
        "https://opensource.org/licenses/MIT",
        "2020-01-01T00:00:00",
        status="draft",
    )
    ids = load(catalog, [draft])
    search.flush()
    assert ids["secret"] not in top(search, "secret unpublished flowers", limit=20)
    assert len(search) == len(RECORDS)


def test_similar(catalog: Catalog, search: SearchIndex) -> None:
    ids = load(catalog)
    search.flush()
    hits = search.similar(ids["flowers"], limit=3)
    assert hits is not None and ids["flowers"] not in [h.identifier for h in hits]
    assert hits[0].identifier == ids["plants"]
    assert search.similar("data_missing") is None


def test_hnsw_index_with_filters(settings: Settings, catalog: Catalog) -> None:
    index = SearchIndex(settings.store_path / "hnsw-search", hnsw_threshold=3)
    index.attach(catalog)
    try:
        ids = load(catalog)
        index.flush()
        assert index.dense is not None and index.dense.is_hnsw
        assert top(index, "spoken audio with transcripts")[0] == ids["speech"]
        assert top(index, "photos", platforms=["example"], types=["datasets"], limit=2)
        catalog.delete(DATASETS, ids["speech"])
        index.flush()
        assert ids["speech"] not in top(index, "spoken audio with transcripts", limit=10)
    finally:
        index.close()


# --------------------------------------------------------------------------- persistence


def test_persisted_index_is_reconciled_with_the_store(settings: Settings, catalog: Catalog) -> None:
    index = open_index(settings, catalog)
    ids = load(catalog)
    index.flush()
    index.close()
    assert (settings.store_path / "search" / "meta.json").exists()

    # changes while no index follows the catalog
    catalog.delete(DATASETS, ids["wmt"])
    catalog.save_many(
        DATASETS,
        [
            record(
                "new",
                "Bird songs",
                "Recordings of bird calls.",
                [],
                "https://opensource.org/licenses/MIT",
                "2022-01-01T00:00:00",
            )
        ],
        mode="upsert",
    )
    reopened = open_index(settings, catalog)
    try:
        reopened.flush()
        assert len(reopened) == len(RECORDS)
        assert ids["wmt"] not in top(reopened, "machine translation German", limit=10)
        assert top(reopened, "bird calls")[0] != ids["speech"]
        assert top(reopened, "bird calls", mode="lexical")
    finally:
        reopened.close()

    # a lost or foreign index is rebuilt from the store
    meta = settings.store_path / "search" / "meta.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "model": "other"}))
    rebuilt = open_index(settings, catalog)
    try:
        rebuilt.flush()
        assert len(rebuilt) == len(RECORDS)
        assert top(rebuilt, "spoken audio with transcripts")[0] == ids["speech"]
    finally:
        rebuilt.close()


# --------------------------------------------------------------------------- API


@pytest.fixture
def loaded(client: TestClient, catalog: Catalog) -> dict[str, str]:
    ids = load(catalog)
    client.app.state.search.flush()  # type: ignore[attr-defined]
    return ids


def test_aiod_search_contract(client: TestClient, loaded: dict[str, str]) -> None:
    response = client.get("/search/datasets", params={"search_query": "speech recognition"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"total_hits", "resources", "limit", "offset"}
    assert body["limit"] == 10 and body["offset"] == 0 and body["total_hits"] >= 1
    first = body["resources"][0]
    assert first["identifier"] == loaded["speech"]
    assert first["description"]["plain"].startswith("Read English speech")
    assert "distribution" not in first

    full = client.get(
        "/v2/search/datasets", params={"search_query": "speech", "get_all": "true", "limit": 1}
    ).json()
    assert full["resources"][0]["license"] and full["resources"][0]["date_published"]
    assert len(full["resources"]) == 1

    named = client.get(
        "/search/datasets", params=[("search_query", "squad"), ("search_fields", "name")]
    ).json()
    assert [r["identifier"] for r in named["resources"]] == [loaded["squad"]]
    assert named["total_hits"] == 1
    nothing = client.get(
        "/search/datasets", params={"search_query": "speech", "platforms": "zenodo"}
    ).json()
    assert nothing["total_hits"] == 0 and nothing["resources"] == []
    paged = client.get(
        "/search/datasets", params={"search_query": "data", "offset": 2, "limit": 2}
    ).json()
    assert paged["offset"] == 2 and len(paged["resources"]) == 2
    assert client.get("/search/unicorns", params={"search_query": "x"}).status_code == 404
    assert (
        client.get(
            "/search/datasets", params={"search_query": "x", "search_fields": "nope"}
        ).status_code
        == 422
    )


def test_search_with_facets_and_highlights(client: TestClient, loaded: dict[str, str]) -> None:
    body = client.get("/search", params={"q": "speech transcripts", "limit": 3}).json()
    # only the hits over the relevance threshold, not the whole candidate pool
    assert 1 <= body["total_hits"] < len(RECORDS)
    assert len(body["items"]) == min(3, body["total_hits"])
    first = body["items"][0]
    assert first["identifier"] == loaded["speech"] and first["type"] == "datasets"
    assert first["url"].endswith(f"/datasets/{loaded['speech']}")
    assert set(first["scores"]) == {"dense", "labels", "lexical"}
    assert "<em>speech</em>" in first["highlight"]["description"]
    assert body["facets"]["type"]["datasets"] == body["total_hits"]
    assert body["facets"]["license"]

    filtered = client.get(
        "/search", params=[("q", "images"), ("keyword", "image"), ("date_from", "2010-01-01")]
    ).json()
    assert [i["identifier"] for i in filtered["items"]] == [loaded["plants"]]
    assert client.get("/search", params={"q": "x", "type": "unicorns"}).status_code == 404
    assert client.get("/search", params={"q": "x", "mode": "magic"}).status_code == 422


def test_similar_route(client: TestClient, loaded: dict[str, str]) -> None:
    response = client.get(f"/datasets/{loaded['flowers']}/similar", params={"limit": 2})
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == 2 and items[0]["identifier"] == loaded["plants"]
    assert client.get("/datasets/data_000000000000000000000000/similar").status_code == 404
    # the asset routes are untouched
    assert client.get(f"/datasets/{loaded['flowers']}").json()["name"] == "oxford_flowers102"


# --------------------------------------------------------------------------- CLI


def test_cli_search_and_reindex(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    from api.cli.main import main

    catalog = Catalog(settings)
    try:
        ids = load(catalog)
    finally:
        catalog.close()
    store = str(settings.store_path)
    assert main(["search", "spoken audio with transcripts", "--store", store, "--limit", "2"]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines()[0].split()[2] == ids["speech"]
    assert "brought up to date: 5 indexed" in out.err
    assert main(["search", "flowers", "--type", "datasets", "--store", store, "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["items"][0]["identifier"] == ids["flowers"]
    assert main(["reindex", "--store", store]) == 0
    assert "indexed 5 assets" in capsys.readouterr().out


# --------------------------------------------------------------------------- quality


@pytest.mark.slow
def test_quality_benchmark_on_the_shared_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    corpus = SEARCH_EVAL / "corpus.jsonl"
    queries = SEARCH_EVAL / "dev_queries.jsonl"
    if not corpus.exists():
        pytest.skip("no shared search-eval corpus")
    from bench.search_quality import main

    assert main(["--corpus", str(corpus), "--queries", str(queries)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    figures = {
        line.split()[0]: float(line.split("ndcg@10=")[1].split()[0])
        for line in lines
        if "ndcg@10=" in line and not line.startswith("ndcg")
    }
    assert lines[-1].startswith("ndcg@10=")
    assert figures["hybrid"] > max(figures["lexical-only"], figures["dense-only"])


@pytest.mark.slow
def test_static_and_fast_models(settings: Settings, catalog: Catalog) -> None:
    """The static model is distilled from the shipped MiniLM weights (offline, once per
    machine, into ~/.cache/aiod-kg); fast mode indexes with it and then computes the MiniLM
    vectors in the background, which persist."""
    static = SearchIndex(settings.store_path / "static-search", model="static")
    static.attach(catalog)
    fast_path = settings.store_path / "fast-search"
    fast = SearchIndex(fast_path, model="fast")
    fast.background_upgrades = False
    fast.attach(catalog)
    try:
        ids = load(catalog)
        static.flush(timeout=900)
        assert static.doc_embedder.name == "static" and static.dim == 256
        assert top(static, "spoken audio with transcripts")[0] == ids["speech"]

        fast.flush(timeout=900)
        assert fast.pending_upgrades() == len(RECORDS)
        assert top(fast, "spoken audio with transcripts")[0] == ids["speech"]
        fast.background_upgrades = True
        assert fast.wait_upgraded(timeout=600)
        assert fast.full is not None and fast.full.size == len(RECORDS)
        assert top(fast, "spoken audio with transcripts")[0] == ids["speech"]
        assert top(fast, "diseases of plant leaves", mode="dense")[0] == ids["plants"]
    finally:
        static.close()
        fast.close()
    reopened = SearchIndex(fast_path, model="fast")
    try:
        assert reopened.pending_upgrades() == 0 and reopened.full is not None
        assert top(reopened, "spoken audio with transcripts")[0] == ids["speech"]
    finally:
        reopened.close()


def test_a_reconcile_of_an_unchanged_catalog_indexes_nothing(
    settings: Settings, catalog: Catalog
) -> None:
    """Every start reconciles the index with the catalogue index's modification times: an
    asset whose JSON has no ``aiod_entry`` (a platform) must not look changed every time."""
    load(catalog)
    platforms = ASSET_TYPES["platforms"]
    saved = catalog.save_many(platforms, [{"name": "someplatform"}], mode="create")
    assert saved[0].ok, saved
    assert "aiod_entry" not in catalog.get(platforms, str(saved[0].identifier))
    index = open_index(settings, catalog)
    try:
        index.flush()
        assert index.rebuild() == len(RECORDS) + 1
        assert index.reconcile() == (0, 0)
    finally:
        index.close()


def test_search_says_when_the_index_is_catching_up(
    settings: Settings, catalog: Catalog, client: TestClient
) -> None:
    """While the index catches up with the catalogue, search answers 503 with Retry-After (not
    an empty success) and /health shows the progress; then it answers."""
    load(catalog)
    serving = client.app.state.search  # type: ignore[attr-defined]
    late = SearchIndex(settings.store_path / "search-late")
    try:
        with late._lock:  # the reconcile waits for it: the index is still catching up
            late.attach(catalog)
            client.app.state.search = late  # type: ignore[attr-defined]
            assert not late.ready
            response = client.get("/search/datasets", params={"search_query": "speech"})
            assert response.status_code == 503 and response.headers["Retry-After"]
            assert set(response.json()) == {"detail", "reference"}
            assert client.get("/search", params={"q": "speech"}).status_code == 503
            health = client.get("/health").json()
            assert health["status"] == "ok" and health["search"]["ready"] is False
            assert health["search"]["indexed"] == 0
        late.flush()
        assert late.progress() == {
            "ready": True,
            "indexed": len(RECORDS),
            "total": len(RECORDS),
            "documents": len(RECORDS),
            "queued": 0,
        }
        assert client.get("/health").json() == {"status": "ok"}  # caught up: nothing to say
        found = client.get("/search/datasets", params={"search_query": "speech"}).json()
        assert found["total_hits"] >= 1
    finally:
        client.app.state.search = serving  # type: ignore[attr-defined]
        late.close()
