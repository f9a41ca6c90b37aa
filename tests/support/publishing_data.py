"""A catalog for the harvesting tests: every AIoD example resource plus varied records
(agents, drafts, deletions, odd media types and checksums, missing descriptions, ...)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from tests.support.data import example_records

DCAT_SHAPES = ("shapes.ttl", "range.ttl", "mdr-vocabularies.shape.ttl")


@dataclass
class Loaded:
    published: dict[str, str] = field(default_factory=dict)  # identifier -> collection
    drafts: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)


def _published(record: dict[str, Any]) -> dict[str, Any]:
    record = copy.deepcopy(record)
    record.setdefault("aiod_entry", {})["status"] = "published"
    return record


def _save(catalog: Catalog, collection: str, records: list[dict[str, Any]]) -> list[str]:
    results = catalog.save_many(ASSET_TYPES[collection], records, mode="upsert")
    bad = [(r.index, r.problems, r.conflict) for r in results if not r.ok]
    assert not bad, bad
    return [str(r.identifier) for r in results]


def load_examples(catalog: Catalog, loaded: Loaded | None = None) -> Loaded:
    loaded = loaded or Loaded()
    for collection in ASSET_TYPES:
        records = [_published(r) for r in example_records(collection)]
        if records:
            for identifier in _save(catalog, collection, records):
                loaded.published[identifier] = collection
    return loaded


def load_varied(catalog: Catalog, loaded: Loaded | None = None, datasets: int = 12) -> Loaded:
    """Agents, datasets, models and services covering the awkward corners of the mappings."""
    loaded = loaded or Loaded()

    def add(collection: str, records: list[dict[str, Any]], status: str = "published") -> list[str]:
        for record in records:
            record.setdefault("aiod_entry", {})["status"] = status
        ids = _save(catalog, collection, records)
        for identifier in ids:
            if status == "published":
                loaded.published[identifier] = collection
            else:
                loaded.drafts.add(identifier)
        return ids

    person, org = (
        add(
            "persons",
            [
                {
                    "name": "Ada Lovelace",
                    "given_name": "Ada",
                    "surname": "Lovelace",
                    "platform": "example",
                    "platform_resource_identifier": "p-ada",
                }
            ],
        ),
        add(
            "organisations",
            [
                {
                    "name": "Example Lab & Co <research>",
                    "platform": "example",
                    "platform_resource_identifier": "o-lab",
                }
            ],
        ),
    )
    unnamed = add(
        "persons",
        [
            {
                "given_name": "Grace",
                "surname": "Hopper",
                "name": "Grace Hopper",
                "platform": "example",
                "platform_resource_identifier": "p-grace",
            }
        ],
    )
    contact = add(
        "contacts",
        [
            {
                "name": "Data desk",
                "email": ["desk@example.org"],
                "platform": "example",
                "platform_resource_identifier": "c-1",
            }
        ],
    )
    secret = add(
        "persons",
        [
            {
                "name": "Secret Draft Person",
                "platform": "example",
                "platform_resource_identifier": "p-secret",
            }
        ],
        status="draft",
    )
    dangling = "prsn_" + "Z" * 24
    formats = [
        "text/csv",
        "CSV",
        "text/csv; charset=utf-8",
        "application/x-weird+zip",
        "not a media type",
        "application/vnd.apache.parquet",
        "image/png",
        None,
    ]
    checksums = [
        ("e3b0c442", "sha256"),
        ("abc", "md5"),
        ("abc1", "sha1"),
        ("0123456789abcdef0123456789abcdef", "md5"),
        ("deadbeef", "crc32"),
        ("DEADBEEF", "SHA-256"),
        (None, None),
        ("00ff", None),
    ]
    temporal = [
        "2011/2012",
        "2020-01-01/2020-12-31",
        "sometime",
        "2019-05-01T10:00:00/",
        "/2001",
        "2000-01-01T00:00:00Z/2000-01-02T00:00:00Z",
        None,
        "2015",
    ]
    records = []
    for i in range(datasets):
        record: dict[str, Any] = {
            "name": f"Varied dataset {i} — «quotes» & <angles>",
            "platform": ["zenodo", "openml", "huggingface"][i % 3],
            "platform_resource_identifier": f"v-{i}",
            "keyword": [f"kw{i}", "shared keyword"],
            "creator": [person[0], org[0], unnamed[0], secret[0], dangling][: 1 + i % 5],
            "contact": [contact[0]] if i % 2 else [person[0]],
            "version": f"{i}.0",
            "is_accessible_for_free": bool(i % 2),
        }
        if i % 4:
            record["description"] = {"plain": f"Description {i}\nwith a second line."}
        if i % 3 == 0:
            record["license"] = "https://creativecommons.org/licenses/by/4.0/"
        if i % 5 == 1:
            record["same_as"] = f"https://zenodo.org/records/{1000 + i}"
        if i % 3 == 1:
            record["date_published"] = "2021-03-04T05:06:07"
        if temporal[i % len(temporal)]:
            record["temporal_coverage"] = temporal[i % len(temporal)]
        if i % 4 == 2:
            record["spatial_coverage"] = {"address": {"locality": "Gent", "country": "BEL"}}
        if i % 6 == 3:
            record["pid"] = f"https://doi.org/10.5281/zenodo.{1000 + i}"
        dists = []
        for j in range(i % 3):
            checksum, algorithm = checksums[(i + j) % len(checksums)]
            dist: dict[str, Any] = {
                "content_url": f"https://files.example.org/{i}/{j}.bin",
                "name": f"file {j}",
            }
            fmt = formats[(i + j) % len(formats)]
            if fmt:
                dist["encoding_format"] = fmt
            if checksum:
                dist["checksum"] = checksum
            if algorithm:
                dist["checksum_algorithm"] = algorithm
            if j % 2 == 0:
                dist["content_size_kb"] = 10 ** (i % 7)
            if (i + j) % 4 == 0:
                dist["copyright"] = "© Example"
            dists.append(dist)
        record["distribution"] = dists
        records.append(record)
    add("datasets", records)
    add(
        "datasets",
        [
            {
                "name": "A draft dataset",
                "platform": "example",
                "platform_resource_identifier": "draft-1",
            }
        ],
        status="draft",
    )
    doomed = add(
        "datasets",
        [{"name": "Deleted soon", "platform": "example", "platform_resource_identifier": "gone-1"}],
    )
    catalog.delete(ASSET_TYPES["datasets"], doomed[0])
    del loaded.published[doomed[0]]
    loaded.deleted.add(doomed[0])
    add(
        "ml_models",
        [
            {
                "name": "A model",
                "platform": "huggingface",
                "platform_resource_identifier": "m-1",
                "creator": [org[0]],
                "distribution": [
                    {
                        "content_url": "https://hf.example/m.safetensors",
                        "encoding_format": "application/octet-stream",
                    }
                ],
            },
            {"name": "Bare model", "platform": "openml", "platform_resource_identifier": "m-2"},
        ],
    )
    add(
        "services",
        [
            {
                "name": "An API",
                "platform": "example",
                "platform_resource_identifier": "s-1",
                "relevant_link": ["https://api.example.org/"],
            },
            {
                "name": "No-URL service",
                "platform": "example",
                "platform_resource_identifier": "s-2",
                "contact": [contact[0]],
            },
        ],
    )
    add(
        "publications",
        [
            {
                "name": "A paper",
                "platform": "zenodo",
                "platform_resource_identifier": "pub-1",
                "creator": [person[0]],
                "date_published": "2020-02-02T00:00:00",
                "pid": "https://doi.org/10.1234/abcd",
            }
        ],
    )
    return loaded
