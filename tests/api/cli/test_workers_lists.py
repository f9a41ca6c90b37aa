"""Deep list pages on ``aiod-kg serve --workers 2`` (real server, embedded store handed to an
Oxigraph server): each worker keeps its own deep-page positions (``CatalogIndex._positions``),
built from the shared catalogue index, so a page at an offset past ``DEEP_OFFSET`` must be the
one-process answer on both workers, and a write through one worker (an append, a deletion, a
rename under ``?sort=name``) must show in the other worker's deep pages at its next request
(the ``changes`` counters, bumped in the writer's transaction). Without search the supervisor
seeds no search copy for the second worker (``api/cli/workers.py``).

Which worker answers a connection is the kernel's choice: ``Pinned`` (on
tests/support/workers.py) keeps one connection per worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from kg.settings import Settings
from kg.store.index import DEEP_OFFSET
from tests.support.data import AUTH
from tests.support.server import LiveServer, free_port, running_server, starts_server
from tests.support.workers import PinnedWorkers

ASSETS = DEEP_OFFSET + 150  # deep pages exist: offsets DEEP_OFFSET .. ASSETS - 1
ENV = {
    "AIOD_KG_WORKER_HEADER": "true",
    "AIOD_KG_SEARCH_ENABLED": "false",  # lists only: no model to load, no index to catch up
    "AIOD_KG_LINKING_ENABLED": "false",
}
#: (offset, limit) pages compared with the one-process answer
PAGES = [(DEEP_OFFSET, 100), (DEEP_OFFSET + 37, 50), (ASSETS - 20, 100)]


def _dataset(n: int) -> dict[str, Any]:
    return {
        "name": f"Deep page dataset {n:05d}",
        "platform": "example",
        "platform_resource_identifier": f"deep-{n}",
        "description": {"plain": f"Dataset {n} of the deep-page workers test."},
    }


def _identifiers(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [item["identifier"] for item in answer.json()]


class Pinned(PinnedWorkers):
    """``PinnedWorkers`` with the page of identifiers a worker answers."""

    def ids(self, pid: str, offset: int, limit: int, **params: str) -> list[str]:
        query = {"offset": str(offset), "limit": str(limit), **params}
        return _identifiers(self.request(pid, "GET", "/datasets", params=query))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, dict[str, list[str]]]:
    """A store of ``ASSETS`` datasets, the port its IRIs were minted on, and the one-process
    server's answers: ``PAGES`` in insertion order and by name."""
    folder = tmp_path_factory.mktemp("workers-lists") / "store"
    port = free_port()
    catalog = Catalog(Settings(store=str(folder), base_url=f"http://127.0.0.1:{port}"))
    try:
        records = [_dataset(n) for n in range(ASSETS)]
        results = catalog.save_many(ASSET_TYPES["datasets"], records, mode="create")
        assert all(r.ok for r in results), [r for r in results if not r.ok][:1]
    finally:
        catalog.close()
    answers: dict[str, list[str]] = {}
    with (
        running_server(folder, port=port, env=ENV) as one,
        httpx.Client(base_url=one.base_url, timeout=60) as client,
    ):
        for offset, limit in PAGES:
            for sort in ("", "name"):
                params = {"offset": offset, "limit": limit} | ({"sort": sort} if sort else {})
                answers[f"{offset}:{limit}:{sort}"] = _identifiers(
                    client.get("/datasets", params=params)
                )
    return folder, port, answers


@pytest.fixture(scope="module")
@starts_server
def server(store: tuple[Path, int, dict[str, list[str]]]) -> Iterator[LiveServer]:
    folder, port, _ = store
    with running_server(folder, port=port, args=["--workers", "2"], env=ENV) as live:
        yield live


@pytest.fixture(scope="module")
def pinned(server: LiveServer) -> Iterator[Pinned]:
    workers = Pinned(server.base_url)
    yield workers
    workers.close()


def test_deep_pages_on_both_workers_equal_the_one_process_answer(
    store: tuple[Path, int, dict[str, list[str]]], pinned: Pinned
) -> None:
    _, _, answers = store
    for offset, limit in PAGES:
        expected = answers[f"{offset}:{limit}:"]
        by_name = answers[f"{offset}:{limit}:name"]
        assert len(expected) == min(limit, ASSETS - offset) == len(by_name)
        for pid in pinned.pids:
            assert pinned.ids(pid, offset, limit) == expected
            assert pinned.ids(pid, offset, limit, sort="name") == by_name
    # the pages are the insertion order of the import: dataset n at offset n
    first = pinned.request(pinned.pids[0], "GET", "/datasets", params={"offset": DEEP_OFFSET})
    assert first.json()[0]["name"] == f"Deep page dataset {DEEP_OFFSET:05d}"


def test_no_search_copy_is_seeded_without_search(
    store: tuple[Path, int, dict[str, list[str]]], pinned: Pinned
) -> None:
    folder, _, _ = store
    assert len(pinned.pids) == 2
    assert not (folder / "search-worker1").exists()


def test_writes_through_one_worker_show_in_the_other_workers_deep_pages(
    pinned: Pinned,
) -> None:
    writer, reader = pinned.pids
    offset = DEEP_OFFSET + 10
    # both workers have built their positions of the type (insertion order and by name)
    before = {pid: pinned.ids(pid, offset, 50) for pid in pinned.pids}
    assert before[writer] == before[reader] and len(before[reader]) == 50
    tail_by_name = pinned.ids(reader, ASSETS - 5, 10, sort="name")
    moved_before = before[reader][20]
    assert moved_before in pinned.ids(reader, offset, 50, sort="name")
    total = ASSETS

    # an append: the new dataset is the last row of the reader's deep tail page
    made = pinned.request(writer, "POST", "/datasets", json=_dataset(99_999), headers=AUTH)
    assert made.status_code in (200, 201), made.text
    new = made.json()["identifier"]
    total += 1
    assert pinned.ids(reader, total - 3, 10)[-1] == new
    assert pinned.ids(reader, offset, 50) == before[reader]  # nothing before it moved

    # a deletion in the middle of a deep page: the rows after it move up by one
    gone = before[reader][5]
    deleted = pinned.request(writer, "DELETE", f"/datasets/{gone}", headers=AUTH)
    assert deleted.status_code in (200, 204), deleted.text
    total -= 1
    after = pinned.ids(reader, offset, 50)
    assert gone not in after
    assert after[:49] == [i for i in before[reader] if i != gone]
    assert after == pinned.ids(writer, offset, 50)

    # a rename under ?sort=name: the renamed dataset leaves its place and ends the order
    moved = moved_before
    record = pinned.request(reader, "GET", f"/datasets/{moved}").json()
    renamed = _dataset(0) | {
        "name": "Zz last by name",
        "platform_resource_identifier": record["platform_resource_identifier"],
    }
    put = pinned.request(writer, "PUT", f"/datasets/{moved}", json=renamed, headers=AUTH)
    assert put.status_code == 200, put.text
    assert moved not in pinned.ids(reader, offset, 50, sort="name")
    last = pinned.ids(reader, total - 5, 10, sort="name")
    # ... "Deep page dataset 02149", "Deep page dataset 99999" (the append), "Zz last by name"
    assert last[-2:] == [new, moved] and last[-3] == tail_by_name[-1]
    assert pinned.ids(writer, total - 5, 10, sort="name") == last
