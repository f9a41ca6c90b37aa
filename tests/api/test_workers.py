"""``aiod-kg serve --workers 2`` against a real server: the two worker processes answer one
catalog. A write through one worker is visible to the writer at once and to the other worker
at its next request on every channel the shared state serves (REST GET, /counts, SPARQL,
/catalog, OAI-PMH, API keys); search, which each worker indexes itself, follows the shared
change feed (bench/workers.py measures that lag). Concurrent PUTs with the same If-Match from
both workers: exactly one 200 and one 412.

Which worker answers a connection is the kernel's choice: ``PinnedWorkers``
(tests/support/workers.py) sends each request on a connection of the worker it names."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.data import AUTH, REPO
from tests.support.server import (
    CHECKOUT_CLI,
    LiveServer,
    free_port,
    running_server,
    server_env,
    starts_server,
)
from tests.support.workers import PinnedWorkers

SEARCH_WAIT = 60.0  # seconds a search index may take to follow (the lag is benchmarked)


def _dataset(name: str, resource: str) -> dict[str, Any]:
    return {
        "name": name,
        "platform": "example",
        "platform_resource_identifier": resource,
        "description": {"plain": f"{name}: readings of a test rig, kept for the workers test."},
    }


@pytest.fixture(scope="module")
@starts_server
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    store: Path = tmp_path_factory.mktemp("workers") / "store"
    with running_server(
        store, args=["--workers", "2"], env={"AIOD_KG_WORKER_HEADER": "true"}
    ) as live:
        yield live


@pytest.fixture
def workers(server: LiveServer) -> Iterator[PinnedWorkers]:
    pinned = PinnedWorkers(server.base_url)
    for pid in pinned.pids:  # /health reports search progress until the index caught up
        deadline = time.monotonic() + SEARCH_WAIT
        while "search" in pinned.request(pid, "GET", "/health").json():
            assert time.monotonic() < deadline, "a worker's search index did not catch up"
            time.sleep(0.2)
    yield pinned
    pinned.close()


def _search_finds(workers: PinnedWorkers, pid: str, text: str, identifier: str) -> bool:
    answer = workers.request(pid, "GET", "/search", params={"q": text, "mode": "lexical"})
    assert answer.status_code == 200, answer.text
    return identifier in {item["identifier"] for item in answer.json()["items"]}


def test_two_processes_answer(workers: PinnedWorkers, server: LiveServer) -> None:
    assert len(workers.pids) == 2 and server.process.pid not in {int(p) for p in workers.pids}
    for pid in workers.pids:
        assert workers.request(pid, "GET", "/health").json() == {"status": "ok"}


def test_a_write_is_seen_by_the_writer_at_once_and_by_the_other_worker(
    workers: PinnedWorkers,
) -> None:
    writer, reader = workers.pids
    counts_before = workers.request(reader, "GET", "/counts").json()
    made = workers.request(
        writer, "POST", "/datasets", headers=AUTH, json=_dataset("Quokka rig", "quokka")
    )
    assert made.status_code == 200, made.text
    identifier = made.json()["identifier"]
    assert workers.request(writer, "GET", f"/datasets/{identifier}").status_code == 200

    # the other worker's next request: the catalogue index, the store and the SQLite state
    # are shared, so there is nothing to wait for
    got = workers.request(reader, "GET", f"/datasets/{identifier}")
    assert got.status_code == 200 and got.json()["name"] == "Quokka rig"
    counts = workers.request(reader, "GET", "/counts").json()
    before = sum(counts_before.get("datasets", {}).values())
    assert sum(counts["datasets"].values()) == before + 1
    ask = 'ASK { ?s <https://schema.org/name> "Quokka rig" }'
    answer = workers.request(
        reader,
        "GET",
        "/sparql",
        params={"query": ask},
        headers={"Accept": "application/sparql-results+json"},
    )
    assert answer.status_code == 200 and answer.json()["boolean"] is True, answer.text
    catalogue = workers.request(reader, "GET", "/catalog", params={"format": "ntriples"})
    assert catalogue.status_code == 200 and identifier in catalogue.text
    oai = workers.request(
        reader, "GET", "/oai", params={"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"}
    )
    assert oai.status_code == 200 and identifier in oai.text

    # search: the reader's own index follows the change feed
    deadline = time.monotonic() + SEARCH_WAIT
    while not _search_finds(workers, reader, "quokka", identifier):
        assert time.monotonic() < deadline, "the other worker's search never found the write"
        time.sleep(0.05)

    # and a deletion through the reader, the other way round
    gone = workers.request(reader, "DELETE", f"/datasets/{identifier}", headers=AUTH)
    assert gone.status_code == 200, gone.text
    assert workers.request(writer, "GET", f"/datasets/{identifier}").status_code == 404
    deadline = time.monotonic() + SEARCH_WAIT
    while _search_finds(workers, writer, "quokka", identifier):
        assert time.monotonic() < deadline, "the writer's search still finds a deleted asset"
        time.sleep(0.05)


def test_concurrent_puts_with_one_etag_lose_no_update(workers: PinnedWorkers) -> None:
    first, second = workers.pids
    made = workers.request(
        first, "POST", "/datasets", headers=AUTH, json=_dataset("Numbat rig", "numbat")
    )
    identifier = made.json()["identifier"]
    etag = workers.request(second, "GET", f"/datasets/{identifier}").headers["etag"]
    statuses: dict[str, int] = {}
    start = threading.Barrier(2)

    def put(pid: str) -> None:
        body = _dataset(f"Numbat rig edited by {pid}", "numbat")
        start.wait()
        statuses[pid] = workers.request(
            pid,
            "PUT",
            f"/datasets/{identifier}",
            headers={**AUTH, "If-Match": etag},
            json=body,
        ).status_code

    threads = [threading.Thread(target=put, args=(pid,)) for pid in workers.pids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses.values()) == [200, 412], statuses
    (winner,) = [pid for pid, status in statuses.items() if status == 200]
    for pid in workers.pids:  # both workers read the winner's version
        name = workers.request(pid, "GET", f"/datasets/{identifier}").json()["name"]
        assert name == f"Numbat rig edited by {winner}"


def test_a_revoked_key_is_refused_by_every_worker(workers: PinnedWorkers) -> None:
    first, second = workers.pids
    made = workers.request(
        first, "POST", "/api_keys", headers=AUTH, json={"name": "harvester", "roles": []}
    )
    assert made.status_code == 200, made.text
    key = {"Authorization": f"Bearer {made.json()['key']}"}
    for pid in workers.pids:  # a new key works on both at once
        assert workers.request(pid, "GET", "/authorization_test", headers=key).status_code == 200
    revoked = workers.request(second, "DELETE", f"/api_keys/{made.json()['id']}", headers=AUTH)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True, revoked.text
    for pid in workers.pids:  # and a revoked one is refused by both at their next request
        refused = workers.request(pid, "GET", "/authorization_test", headers=key)
        assert refused.status_code == 401, refused.text
        assert set(refused.json()) == {"detail", "reference"}


@pytest.mark.server
def test_the_supervisor_exits_non_zero_when_a_worker_fails_to_start(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    (store / "workers").write_text("a file where the workers' slot folder goes")
    env = {
        **server_env(store=store, base_url=None, admin_key=None, env={}, clean_env=True),
        "AIOD_KG_SEARCH_ENABLED": "false",
        "AIOD_KG_LINKING_ENABLED": "false",
    }
    command = [*CHECKOUT_CLI, "serve", "--workers", "2", "--port", str(free_port())]
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        output, _ = process.communicate(timeout=180)
    finally:
        if process.poll() is None:  # it kept restarting the failed worker
            process.kill()
            process.communicate()
    assert process.returncode == 3, output.decode(errors="replace")[-3000:]
    assert b"failed to start" in output


def test_scheduled_harvests_run_once_among_the_workers(tmp_path: Path) -> None:
    """``serve --workers 2 --harvest-every``: the worker in slot 0 harvests (under the lease);
    every record arrives once and the source's list is walked by one process."""
    from api.demo.replay import ReplayData, ReplayServer
    from tests.support.data import FIXTURES

    data = ReplayData.from_fixtures(FIXTURES).scaled(openml=12)
    with ReplayServer(data) as upstream:
        env = {
            "AIOD_KG_OPENML_URL": upstream.openml_url,
            "AIOD_KG_HARVEST_SOURCES": "openml",
            "AIOD_KG_HARVEST_PAGE_SIZE": "5",
            "AIOD_KG_SEARCH_ENABLED": "false",
        }
        with running_server(
            tmp_path / "store", args=["--workers", "2", "--harvest-every", "1h"], env=env
        ) as live:
            deadline = time.monotonic() + 180
            counts: dict[str, Any] = {}
            while counts.get("datasets", {}).get("openml") != 12:
                assert time.monotonic() < deadline, f"not harvested: {counts}"
                time.sleep(0.5)
                counts = httpx.get(f"{live.base_url}/counts", timeout=10).json()
            starts = [r for r in upstream.requests if "/data/list/" in r and r.endswith("/0")]
            assert len(starts) == 1, upstream.requests  # one process walked the list
