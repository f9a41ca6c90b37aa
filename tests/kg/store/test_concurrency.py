"""Concurrency: ``PUT`` honours ``If-Match`` (412 on a stale ETag, in the error envelope), so
concurrent editors never lose an update silently; many concurrent readers and writers on a
real server leave a consistent store (every asset wholly old or wholly new, index = store)."""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.support.data import AUTH, example_records
from tests.support.robust import assert_index_agrees, open_catalog, server


def _dataset(name: str = "concurrency test") -> dict[str, Any]:
    record = copy.deepcopy(example_records("datasets")[0])
    for key in ("identifier", "aiod_entry", "platform", "platform_resource_identifier"):
        record.pop(key, None)
    record["name"] = name
    return record


def _create(client: Any, record: dict[str, Any]) -> str:
    answer = client.post("/datasets", json=record, headers=AUTH)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["identifier"])


def test_if_match_stale_etag_is_412(client: TestClient) -> None:
    identifier = _create(client, _dataset())
    first = client.get(f"/datasets/{identifier}")
    etag = first.headers["etag"]
    record = _dataset("edited once")
    assert (
        client.put(
            f"/datasets/{identifier}", json=record, headers={**AUTH, "If-Match": etag}
        ).status_code
        == 200
    )
    # the same (now stale) ETag again: 412 in the error envelope, nothing written
    stale = client.put(
        f"/datasets/{identifier}", json=_dataset("lost update"), headers={**AUTH, "If-Match": etag}
    )
    assert stale.status_code == 412
    body = stale.json()
    assert set(body) == {"detail", "reference"} and "If-Match" in body["detail"]
    assert client.get(f"/datasets/{identifier}").json()["name"] == "edited once"
    # a weak tag never matches (strong comparison); a list with the current tag does
    current = client.get(f"/datasets/{identifier}").headers["etag"]
    weak = client.put(
        f"/datasets/{identifier}", json=record, headers={**AUTH, "If-Match": "W/" + current}
    )
    assert weak.status_code == 412
    listed = client.put(
        f"/datasets/{identifier}",
        json=_dataset("listed"),
        headers={**AUTH, "If-Match": f'"nope", {current}'},
    )
    assert listed.status_code == 200
    # the ETag of another representation (Turtle) of the current version matches too
    turtle = client.get(f"/datasets/{identifier}?format=turtle").headers["etag"]
    assert (
        client.put(
            f"/datasets/{identifier}",
            json=_dataset("via turtle"),
            headers={**AUTH, "If-Match": turtle},
        ).status_code
        == 200
    )
    # "*" and no header keep the unconditional behaviour
    assert (
        client.put(
            f"/datasets/{identifier}", json=_dataset("star"), headers={**AUTH, "If-Match": "*"}
        ).status_code
        == 200
    )
    assert (
        client.put(f"/datasets/{identifier}", json=_dataset("plain"), headers=AUTH).status_code
        == 200
    )
    assert client.get(f"/datasets/{identifier}").json()["name"] == "plain"
    # a missing asset stays 404 whatever If-Match says
    missing = client.put(
        "/datasets/data_000000000000000000000000", json=record, headers={**AUTH, "If-Match": etag}
    )
    assert missing.status_code == 404


@pytest.mark.server
def test_concurrent_editors_lose_no_update(tmp_path: Path) -> None:
    """Editors increment a counter held in the name with GET + PUT If-Match, retrying on 412:
    the final value equals the number of successful PUTs (no update is lost)."""
    editors, increments = 4, 6
    with server(tmp_path / "store") as live:
        with httpx.Client(base_url=live.base_url, timeout=60) as http:
            identifier = _create(http, _dataset("counter 0"))
        successes = [0] * editors
        refused = [0] * editors
        errors: list[str] = []

        def edit(slot: int) -> None:
            with httpx.Client(base_url=live.base_url, timeout=60) as http:
                done = 0
                while done < increments:
                    got = http.get(f"/datasets/{identifier}")
                    value = int(got.json()["name"].split()[-1])
                    answer = http.put(
                        f"/datasets/{identifier}",
                        json=_dataset(f"counter {value + 1}"),
                        headers={**AUTH, "If-Match": got.headers["etag"]},
                    )
                    if answer.status_code == 200:
                        done += 1
                    elif answer.status_code == 412:
                        refused[slot] += 1
                    else:
                        errors.append(f"{answer.status_code} {answer.text}")
                        return
                successes[slot] = done

        threads = [threading.Thread(target=edit, args=(i,)) for i in range(editors)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        with httpx.Client(base_url=live.base_url, timeout=60) as http:
            final = http.get(f"/datasets/{identifier}").json()["name"]
        assert final == f"counter {editors * increments}"
        print(f"412 retries: {sum(refused)}")


@pytest.mark.slow
@pytest.mark.server
def test_many_readers_and_writers_leave_a_consistent_store(tmp_path: Path) -> None:
    """Writers replace assets with versions whose marker is in several fields at once; readers
    must only ever see one version per asset, and afterwards index and store agree."""
    store = tmp_path / "store"
    assets, writers, readers, rounds = 6, 4, 4, 8
    with server(store) as live:
        with httpx.Client(base_url=live.base_url, timeout=60) as http:
            ids = [_create(http, _versioned("v0")) for _ in range(assets)]
        problems: list[str] = []

        def write(slot: int) -> None:
            with httpx.Client(base_url=live.base_url, timeout=60) as http:
                for n in range(rounds):
                    identifier = ids[(slot + n) % assets]
                    answer = http.put(
                        f"/datasets/{identifier}", json=_versioned(f"w{slot}r{n}"), headers=AUTH
                    )
                    if answer.status_code != 200:
                        problems.append(f"PUT {answer.status_code} {answer.text}")

        def read(slot: int) -> None:
            with httpx.Client(base_url=live.base_url, timeout=60) as http:
                for n in range(rounds * 3):
                    identifier = ids[(slot + n) % assets]
                    paths = [f"/datasets/{identifier}", "/datasets?limit=50"]
                    for path in paths:
                        answer = http.get(path)
                        if answer.status_code != 200:
                            problems.append(f"GET {path} {answer.status_code}")
                            continue
                        docs = answer.json()
                        for doc in docs if isinstance(docs, list) else [docs]:
                            _check_whole(doc, problems)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
        threads += [threading.Thread(target=read, args=(i,)) for i in range(readers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert problems == []
        base = live.base_url
    catalog = open_catalog(store, base)
    try:
        stored = assert_index_agrees(catalog)
        assert set(ids) <= set(stored)
        for identifier in ids:
            problems = []
            _check_whole(stored[identifier], problems)
            assert problems == []
    finally:
        catalog.close()


def _versioned(marker: str) -> dict[str, Any]:
    record = _dataset(f"version {marker}")
    record["description"] = {"plain": f"description of version {marker}"}
    record["keyword"] = [f"kw-{marker}", "concurrency"]
    return record


def _check_whole(doc: dict[str, Any], problems: list[str]) -> None:
    marker = str(doc.get("name", "")).removeprefix("version ")
    description = (doc.get("description") or {}).get("plain", "")
    keywords = set(doc.get("keyword") or [])
    if description != f"description of version {marker}" or f"kw-{marker}" not in keywords:
        problems.append(f"torn asset {doc.get('identifier')}: {marker} / {description}")
