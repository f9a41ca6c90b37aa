"""Hugging Face connector against a loopback replay of the recorded payloads in
api/demo/recorded/huggingface."""

from __future__ import annotations

from datetime import UTC, datetime

from api.demo.replay import ReplayServer
from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from mappings.huggingface import HuggingFaceConnector
from tests.support.harvest import find, harvester, replay

PUBLICATIONS = ASSET_TYPES["publications"]

# The Hub's /api/models?full=true shape (no recorded fixture exists; written for these tests).
MODELS = [
    {
        "_id": "64a0000000000000000000a1",
        "id": "example-org/tiny-bert",
        "author": "example-org",
        "lastModified": "2024-01-10T10:00:00.000Z",
        "createdAt": "2023-06-01T08:00:00.000Z",
        "private": False,
        "disabled": False,
        "gated": False,
        "pipeline_tag": "fill-mask",
        "library_name": "transformers",
        "downloads": 12,
        "likes": 3,
        "tags": [
            "transformers",
            "bert",
            "fill-mask",
            "license:apache-2.0",
            "arxiv:1810.04805",
            "region:us",
        ],
        "cardData": {"license": "apache-2.0"},
        "siblings": [{"rfilename": "config.json"}, {"rfilename": "model.safetensors"}],
    },
    {
        "_id": "64a0000000000000000000a2",
        "id": "someone/secret-model",
        "private": True,
        "lastModified": "2024-01-11T10:00:00.000Z",
        "tags": [],
    },
]


def connector(server: ReplayServer, page_size: int = 2) -> HuggingFaceConnector:
    return HuggingFaceConnector(server.huggingface_url, server.huggingface_url, page_size)


def test_full_harvest_maps_datasets_citations_and_models(catalog: Catalog) -> None:
    with replay() as server:
        server.data.hf_models = [dict(m) for m in MODELS]
        report = harvester(catalog).run(connector(server))
        pages = server.count("/huggingface/api/datasets")
    assert report.completed and report.error_count == 0, report.summary()
    assert pages == 3  # 6 datasets, 2 per page, followed through the Link header
    assert report.counts["datasets"]["created"] == 6
    assert report.counts["ml_models"]["created"] == 1
    assert report.total("deleted") == 0

    tomatoes = find(catalog, "datasets", "huggingface", "621ffdd236468d709f181f5f")
    assert tomatoes["name"] == "rotten_tomatoes"
    assert tomatoes["alternate_name"] == ["RottenTomatoes - MR Movie Review Data"]
    assert tomatoes["same_as"] == "https://huggingface.co/datasets/rotten_tomatoes"
    assert tomatoes["date_published"] == "2022-03-02T23:29:22"
    assert tomatoes["description"]["plain"].startswith("Movie Review Dataset.")
    assert "task_categories:text-classification" in tomatoes["keyword"]
    assert not any(k.startswith("region:") for k in tomatoes["keyword"])
    assert "license" not in tomatoes  # "unknown"
    assert tomatoes["is_accessible_for_free"] is True
    assert tomatoes["relevant_link"] == ["https://paperswithcode.com/dataset/mr"]
    splits = {d["name"]: d for d in tomatoes["distribution"]}
    assert set(splits) == {
        "rotten_tomatoes-test.parquet",
        "rotten_tomatoes-train.parquet",
        "rotten_tomatoes-validation.parquet",
    }
    train = splits["rotten_tomatoes-train.parquet"]
    assert train["content_size_kb"] == 698844 // 1024
    assert train["encoding_format"] == "application/vnd.apache.parquet"
    assert train["description"] == "rotten_tomatoes. Config: default. Split: train"
    (citation,) = tomatoes["citation"]
    paper = catalog.get(PUBLICATIONS, citation)
    assert paper["name"] == (
        "Seeing stars: Exploiting class relationships for sentiment "
        "categorization with respect to rating scales"
    )
    assert paper["type"] == "inproceedings"
    assert paper["platform"] == "huggingface"

    acronym = find(catalog, "datasets", "huggingface", "621ffdd236468d709f181d58")
    assert acronym["license"] == "https://spdx.org/licenses/MIT.html"
    assert "https://arxiv.org/abs/2010.14678" in acronym["relevant_link"]
    air = find(catalog, "datasets", "huggingface", "621ffdd236468d709f181d5f")
    assert air["license"] == "https://creativecommons.org/licenses/by-nc/4.0/"
    air_paper = catalog.get(PUBLICATIONS, air["citation"][0])
    assert air_paper["pid"] == "https://doi.org/10.18653/v1/D18-1419"
    assert air_paper["description"]["plain"].startswith("Recent progress in dialogue")

    probes = find(catalog, "datasets", "huggingface", "62cd5fa83e5ba89c40f22b0d")
    assert probes["distribution"] == []  # the viewer answered 404
    assert probes["license"] == "https://spdx.org/licenses/Apache-2.0.html"
    plain = catalog.get(PUBLICATIONS, probes["citation"][0])  # not BibTeX: kept as text
    assert plain["name"] == (
        "Probing neural language models for understanding of words of estimative probability"
    )

    model = find(catalog, "ml_models", "huggingface", "64a0000000000000000000a1")
    assert model["name"] == "example-org/tiny-bert"
    assert model["type"] == "fill-mask"
    assert model["license"] == "https://spdx.org/licenses/Apache-2.0.html"
    assert [d["content_url"] for d in model["distribution"]] == [
        "https://huggingface.co/example-org/tiny-bert/resolve/main/config.json",
        "https://huggingface.co/example-org/tiny-bert/resolve/main/model.safetensors",
    ]
    assert "https://arxiv.org/abs/1810.04805" in model["relevant_link"]


def test_malformed_citation_still_yields_a_publication(catalog: Catalog) -> None:
    with replay() as server:
        import json

        from tests.support.data import FIXTURES

        broken = json.loads(
            (FIXTURES / "huggingface" / "data_list_incorrect_citation.json").read_text(
                encoding="utf-8"
            )
        )
        server.data.hf_datasets = broken
        report = harvester(catalog).run(connector(server))
    assert report.error_count == 0, report.summary()
    dataset = find(catalog, "datasets", "huggingface", "621ffdd236468d709f181d6f")
    paper = catalog.get(PUBLICATIONS, dataset["citation"][0])
    assert paper["name"] == (
        "ArCOV-19: The First Arabic COVID-19 Twitter Dataset with Propagation Networks"
    )


def test_twice_no_change_then_change_and_private_repository(catalog: Catalog) -> None:
    with replay() as server:
        run = harvester(catalog)
        run.run(connector(server))
        again = run.run(connector(server))
        assert again.total("created") == again.total("updated") == 0
        assert again.counts["datasets"]["unchanged"] == 6
        assert catalog.count(PUBLICATIONS) == 5
        entry = next(d for d in server.data.hf_datasets if d["id"] == "air_dialogue")
        entry["description"] = "A new description."
        entry["lastModified"] = "2024-05-01T00:00:00.000Z"
        hidden = next(d for d in server.data.hf_datasets if d["id"] == "bobbydylan/top2k")
        hidden["private"] = True
        report = run.run(connector(server))
    assert report.counts["datasets"]["updated"] == 1, report.summary()
    assert report.counts["datasets"]["deleted"] == 1
    assert find(catalog, "datasets", "huggingface", "621ffdd236468d709f181d5f")["description"] == {
        "plain": "A new description."
    }
    assert (
        catalog.index.find_platform("datasets", "huggingface", "621ffdd236468d709f182fdf") is None
    )


def test_incremental_run_stops_at_older_records(catalog: Catalog) -> None:
    with replay() as server:
        run = harvester(catalog)
        since = datetime(2023, 1, 1, tzinfo=UTC)
        report = run.run(connector(server), since=since)
        requests = [r for r in server.requests if r.startswith("/huggingface/api/datasets")]
    # lastModified after 2023-01-01: rotten_tomatoes (2023-04-05) and acronym (2023-01-25)
    assert report.counts["datasets"]["created"] == 2, report.summary()
    assert "sort=lastModified" in requests[0] and "direction=-1" in requests[0]
    assert len(requests) == 2  # the second page reached older records: no third request
    assert not report.swept
