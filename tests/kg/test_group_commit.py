"""Group commit (kg/group_commit.py, Catalog._commit_writes): concurrent creates and replaces
written together, each caller with its own answer.

To make a batch certain rather than likely, a test holds the catalog's write lock while its
threads submit: the first becomes the leader and waits for the lock, the others queue behind
it; released, the leader writes itself and hands over to the next, who takes all the rest.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.linked_data import content_etag
from api.preconditions import if_match
from kg.catalog import Catalog
from kg.errors import Conflict, Invalid, NotFound, PreconditionFailed
from kg.group_commit import GroupCommit
from kg.model.fields import ASSET_TYPES
from kg.model.rdf_mapping import Lit, Triple
from kg.settings import Settings
from kg.store.embedded import EmbeddedStore
from tests.support.data import AUTH
from tests.support.robust import assert_index_agrees, open_catalog, server

DATASETS = ASSET_TYPES["datasets"]


def record(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": f"dataset {i}",
        "platform": "node",
        "platform_resource_identifier": f"r{i}",
        **extra,
    }


def wait_until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the writers never queued"
        time.sleep(0.005)


def in_one_batch(
    catalog: Catalog, calls: Sequence[Callable[[], Any]], queued: int | None = None
) -> list[Any]:
    """Run ``calls`` in threads so that all but the first are committed in one batch (but
    for two writes of one asset); each call's return value or exception, in order.
    ``queued``: how many of the others reach the group commit (default: all)."""
    queued = len(calls) - 1 if queued is None else queued
    outcomes: list[Any] = [None] * len(calls)

    def run(position: int) -> None:
        try:
            outcomes[position] = calls[position]()
        except Exception as exc:
            outcomes[position] = exc

    group = catalog._group
    before = group.operations
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    with catalog.write_lock:
        threads[0].start()
        wait_until(lambda: group._leading and not group._waiting)  # the leader waits for us
        for thread in threads[1:]:
            thread.start()
        wait_until(lambda: len(group._waiting) == queued)
    for thread in threads:
        thread.join(60)
    assert group.operations - before == queued + 1
    return outcomes


def consistent(catalog: Catalog) -> set[str]:
    """The identifiers of the stored datasets, checked to be those of the index."""
    prefix = catalog.base_url + "/datasets/"
    stored = {iri[len(prefix) :] for iri in catalog.store.graph_names() if iri.startswith(prefix)}
    assert stored == set(catalog.index.identifiers("datasets"))
    assert not catalog.index.pending()
    return stored


def test_concurrent_creates_are_committed_together(catalog: Catalog) -> None:
    n = 24
    batches = catalog._group.batches
    outcomes = in_one_batch(
        catalog, [partial(catalog.create, DATASETS, record(i)) for i in range(n)]
    )
    assert catalog._group.batches - batches == 2
    assert all(isinstance(o, str) for o in outcomes), outcomes
    assert len(set(outcomes)) == n  # each caller its own identifier
    assert consistent(catalog) == set(outcomes)
    for i, identifier in enumerate(outcomes):
        data = catalog.get(DATASETS, identifier)
        assert data["platform_resource_identifier"] == f"r{i}"
        assert data["name"] == f"dataset {i}"


def test_a_refused_write_fails_alone(catalog: Catalog) -> None:
    target = catalog.create(DATASETS, record(100))
    calls: list[Callable[[], Any]] = [
        partial(catalog.create, DATASETS, record(i)) for i in range(8)
    ]
    calls += [
        lambda: catalog.create(DATASETS, {**record(3), "name": "the same platform id"}),
        # refused before it queues: a create is validated in its caller's thread
        lambda: catalog.create(DATASETS, record(50, date_published="not a date")),
        # queued, and refused in the batch (after its NotFound / If-Match checks)
        lambda: catalog.replace(DATASETS, target, record(100, date_published="not a date")),
        lambda: catalog.replace(DATASETS, "data_000000000000000000000000", record(51)),
        lambda: catalog.replace(DATASETS, target, record(100, name="replaced")),
    ]
    batches = catalog._group.batches
    outcomes = in_one_batch(catalog, calls, queued=10)
    assert catalog._group.batches - batches == 3
    assert all(isinstance(o, str) for o in outcomes[:8]), outcomes
    assert isinstance(outcomes[8], Conflict) and outcomes[8].existing == outcomes[3]
    assert isinstance(outcomes[9], Invalid)
    assert isinstance(outcomes[10], Invalid)
    assert isinstance(outcomes[11], NotFound)
    # two writes of one asset are never in one batch: the second sees the first's result
    assert outcomes[12] is None
    assert catalog.get(DATASETS, target)["name"] == "replaced"
    assert consistent(catalog) == {target, *outcomes[:8]}


def test_concurrent_if_match_replaces_exactly_one_wins(catalog: Catalog) -> None:
    identifier = catalog.create(DATASETS, record(1))
    document = catalog.cached_document(DATASETS, identifier)
    assert document is not None
    etag = content_etag(document)

    def edit(i: int) -> None:
        precondition = if_match(etag, catalog, DATASETS)
        catalog.replace(DATASETS, identifier, {**record(1), "name": f"edit {i}"}, precondition)

    outcomes = in_one_batch(catalog, [partial(edit, i) for i in range(8)])
    winners = [i for i, o in enumerate(outcomes) if o is None]
    assert len(winners) == 1, outcomes
    assert all(isinstance(o, PreconditionFailed) for o in outcomes if o is not None)
    assert catalog.get(DATASETS, identifier)["name"] == f"edit {winners[0]}"


def test_replace_keeps_creation_date_and_dates_follow_commit_order(catalog: Catalog) -> None:
    identifier = catalog.create(DATASETS, record(1))
    created = catalog.entry(DATASETS, identifier).date_created
    outcomes = in_one_batch(
        catalog,
        [lambda: catalog.replace(DATASETS, identifier, {**record(1), "name": "new"})]
        + [partial(catalog.create, DATASETS, record(i)) for i in range(2, 6)],
    )
    entry = catalog.entry(DATASETS, identifier)
    assert entry.date_created == created
    data = catalog.get(DATASETS, identifier)
    assert data["aiod_entry"]["date_created"] == created
    assert data["aiod_entry"]["date_modified"] == entry.date_modified >= created
    modified = [catalog.entry(DATASETS, i).date_modified for i in outcomes[1:]]
    assert all(m >= entry.date_modified for m in modified)


def test_a_writer_holding_the_write_lock_commits_directly(catalog: Catalog) -> None:
    """A read-modify-write under the lock (guard.edit, workflow) must not wait for a leader
    that waits for its lock."""
    identifier = catalog.create(DATASETS, record(1))
    with catalog.write_lock:
        name = catalog.get(DATASETS, identifier)["name"]
        catalog.replace(DATASETS, identifier, {**record(1), "name": name + " again"})
        other = catalog.create(DATASETS, record(2))
    assert catalog.get(DATASETS, identifier)["name"] == "dataset 1 again"
    assert consistent(catalog) == {identifier, other}


class RefusingStore(EmbeddedStore):
    """A store that fails every write holding a graph with the literal ``poison``: the
    failure of one asset's store write within a batch."""

    def replace_graphs(self, graphs: Mapping[str, Sequence[Triple]]) -> None:
        for triples in graphs.values():
            if any(isinstance(o, Lit) and o.lexical == "poison" for _, _, o in triples):
                raise OSError("the store refuses this graph")
        super().replace_graphs(graphs)


def test_a_store_failure_fails_only_its_own_write(tmp_path: Path) -> None:
    settings = Settings(store=str(tmp_path / "store"), admin_key="k")
    with_poison = Catalog(settings, store=RefusingStore(tmp_path / "refusing"))
    try:
        calls: list[Callable[[], Any]] = [
            partial(with_poison.create, DATASETS, record(i)) for i in range(6)
        ]
        calls.insert(3, lambda: with_poison.create(DATASETS, {**record(9), "name": "poison"}))
        outcomes = in_one_batch(with_poison, calls)
        assert isinstance(outcomes[3], OSError)
        written = [o for o in outcomes if isinstance(o, str)]
        assert len(written) == 6
        assert consistent(with_poison) == set(written)
    finally:
        with_poison.close()


def test_group_commit_hands_each_caller_its_outcome() -> None:
    """The batcher alone: batches never hold two operations of one key, and an exception the
    commit raises as a whole reaches every caller of that batch."""
    seen: list[list[tuple[str, int]]] = []
    gate = threading.Event()

    def commit(ops: Sequence[tuple[str, int]]) -> list[int | BaseException]:
        gate.wait(30)
        seen.append(list(ops))
        if ("boom", 0) in ops:
            raise RuntimeError("the whole batch failed")
        return [ValueError(str(n)) if n < 0 else n * 10 for _, n in ops]

    group: GroupCommit[tuple[str, int], int] = GroupCommit(commit, key=lambda op: op[0])
    ops = [("a", 1), ("b", 2), ("b", 3), ("c", -4), ("d", 5)]
    outcomes: list[Any] = [None] * len(ops)

    def run(position: int) -> None:
        try:
            outcomes[position] = group.submit(ops[position])
        except Exception as exc:
            outcomes[position] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(ops))]
    threads[0].start()
    wait_until(lambda: group._leading and not group._waiting)
    for position, thread in enumerate(threads[1:], 1):
        thread.start()
        wait_until(partial(lambda n: len(group._waiting) == n, position))
    gate.set()
    for thread in threads:
        thread.join(30)
    assert seen == [[("a", 1)], [("b", 2)], [("b", 3), ("c", -4), ("d", 5)]]
    assert outcomes[:3] == [10, 20, 30] and outcomes[4] == 50
    assert isinstance(outcomes[3], ValueError)
    with pytest.raises(RuntimeError, match="whole batch"):
        group.submit(("boom", 0))
    assert group.submit(("e", 6)) == 60  # and the next batch is led again


@pytest.mark.slow
@pytest.mark.server
def test_sigkill_during_concurrent_creates_leaves_no_half_written_batch(tmp_path: Path) -> None:
    """Concurrent POSTs to a real ``aiod-kg serve`` (batches of several creates), SIGKILLed
    mid-stream: reopened, the index agrees with the store, nothing is pending, and every
    create that was answered 200 is there whole."""
    store = tmp_path / "store"
    acknowledged: dict[str, str] = {}
    stop = threading.Event()
    with server(store) as live:

        def writer(w: int) -> None:
            with httpx.Client(base_url=f"{live.base_url}/v2", headers=AUTH, timeout=30) as http:
                i = 0
                while not stop.is_set():
                    resource = f"w{w}-{i}"
                    try:
                        response = http.post(
                            "/datasets", json=record(i, platform_resource_identifier=resource)
                        )
                    except httpx.HTTPError:
                        return  # the server is gone
                    if response.status_code == 200:
                        acknowledged[resource] = response.json()["identifier"]
                    i += 1

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
        for thread in threads:
            thread.start()
        try:
            wait_until(lambda: len(acknowledged) >= 120, seconds=120)
        finally:
            os.kill(live.process.pid, signal.SIGKILL)
            live.process.wait()
            stop.set()
            for thread in threads:
                thread.join(60)
    catalog = open_catalog(store, live.base_url)
    try:
        stored = assert_index_agrees(catalog)
        for resource, identifier in acknowledged.items():
            assert stored[identifier]["platform_resource_identifier"] == resource
    finally:
        catalog.close()
