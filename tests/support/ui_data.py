"""A small published catalog for the UI and client tests: a few well-described datasets (with
licences, keywords, platforms, a creator, downloads), a publication, and enough filler
datasets to need a second page of results."""

from __future__ import annotations

import time
from typing import Any

import httpx
from aiod_kg_client import Client

PAGE_FILLERS = 24
DATASETS: list[tuple[str, str, str, list[str], str, str, str]] = [
    (
        "speech",
        "LibriSpeech",
        "Read English speech: audio recordings of audiobooks with their "
        "transcripts, for training automatic speech recognition.",
        ["speech-recognition", "audio"],
        "https://creativecommons.org/licenses/by/4.0/",
        "2015-04-01T00:00:00",
        "openml",
    ),
    (
        "flowers",
        "oxford_flowers102",
        "Photographs of 102 flower species from the United "
        "Kingdom, for fine-grained image classification.",
        ["image-classification", "image"],
        "https://opensource.org/licenses/MIT",
        "2008-12-01T00:00:00",
        "huggingface",
    ),
    (
        "squad",
        "SQuAD",
        "Questions posed by crowdworkers on Wikipedia articles; the answer to "
        "every question is a span of the passage.",
        ["question-answering", "text"],
        "https://creativecommons.org/licenses/by/4.0/",
        "2016-06-01T00:00:00",
        "huggingface",
    ),
    (
        "plants",
        "plant_village",
        "Leaf images of healthy and diseased crop plants, labelled by disease.",
        ["image-classification", "image"],
        "https://opensource.org/licenses/MIT",
        "2019-01-01T00:00:00",
        "zenodo",
    ),
    (
        "wmt",
        "wmt14_translate",
        "Parallel sentences in English and German for machine translation.",
        ["machine-translation", "text"],
        "https://creativecommons.org/licenses/by/4.0/",
        "2014-06-01T00:00:00",
        "zenodo",
    ),
]


def dataset(
    key: str,
    name: str,
    description: str,
    keywords: list[str],
    license_: str,
    published: str,
    platform: str,
    creator: str | None = None,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "platform": platform,
        "platform_resource_identifier": key,
        "name": name,
        "description": {"plain": description},
        "keyword": keywords,
        "license": license_,
        "date_published": published,
        "same_as": f"https://example.org/{platform}/{key}",
        "distribution": [
            {
                "content_url": f"https://example.org/files/{key}.zip",
                "name": f"{key}.zip",
                "encoding_format": "application/zip",
                "content_size_kb": 2048,
            }
        ],
        "aiod_entry": {"status": "published"},
    }
    if creator:
        record["creator"] = [creator]
    return record


def seed(client: Client) -> dict[str, str]:
    """Create the catalog (``client`` must be an admin); ``{key: identifier}``."""
    ids: dict[str, str] = {}
    ids["person"] = client.create(
        "persons",
        {
            "platform": "example",
            "platform_resource_identifier": "ada",
            "given_name": "Ada",
            "surname": "Lovelace",
            "name": "Ada Lovelace",
            "aiod_entry": {"status": "published"},
        },
    )
    for row in DATASETS:
        ids[row[0]] = client.create("datasets", dataset(*row, creator=ids["person"]))
    ids["paper"] = client.create(
        "publications",
        {
            "platform": "example",
            "platform_resource_identifier": "paper1",
            "name": "Automated flower classification over a large number of classes",
            "description": {"plain": "A visual vocabulary for fine-grained flower recognition."},
            "keyword": ["image-classification"],
            "date_published": "2008-12-16T00:00:00",
            "aiod_entry": {"status": "published"},
        },
    )
    for n in range(PAGE_FILLERS):
        ids[f"filler{n}"] = client.create(
            "datasets",
            dataset(
                f"bench{n}",
                f"Synthetic tabular benchmark {n:02d}",
                f"Generated table number {n} with numeric columns, for regression tests.",
                ["tabular", "synthetic"],
                "https://creativecommons.org/publicdomain/zero/1.0/",
                f"2020-01-{n + 1:02d}T00:00:00",
                "example",
            ),
        )
    return ids


def wait_indexed(base_url: str, expected: int, timeout: float = 120.0) -> None:
    """Wait until the server's search index holds ``expected`` assets (it indexes in the
    background after each write)."""
    deadline = time.monotonic() + timeout
    total = -1
    while time.monotonic() < deadline:
        body = httpx.get(f"{base_url}/search", params={"q": "", "limit": 1}, timeout=30).json()
        total = body["total_hits"]
        if total >= expected:
            return
        time.sleep(0.2)
    raise TimeoutError(f"search index has {total} of {expected} assets")
