"""Crash safety of ``aiod-kg import --jobs 2`` (kg/bulk.py): SIGKILL of the writer at random
points leaves whole batches only (the catalogue index agrees with the store, nothing
pending), its worker processes exit on their own, and the import can simply be run again."""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.robust import assert_index_agrees, cli, open_catalog

N = 1300  # datasets: batches of 1000 and 300
pytestmark = pytest.mark.slow


def write_file(folder: Path) -> Path:
    path = folder / "datasets.json"
    records: list[dict[str, Any]] = [
        {
            "platform": "example",
            "platform_resource_identifier": f"bulk-{i}",
            "name": f"dataset {i}",
            "description": {"plain": "lorem ipsum " * (1 + i % 30)},
        }
        for i in range(N)
    ]
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def run_import(store: Path, source: Path, kill_after: float | None) -> tuple[float, list[int]]:
    """The import; SIGKILLed after ``kill_after`` s. Returns its run time and its workers."""
    started = time.monotonic()
    process = cli(store, "import", "--jobs", "2", "--mode", "create", str(source))
    assert process.stdout is not None
    drain = threading.Thread(target=process.stdout.read, daemon=True)  # a line per record
    drain.start()
    workers: list[int] = []
    deadline = started + (kill_after if kill_after is not None else 600)
    while process.poll() is None and time.monotonic() < deadline:
        workers = workers or children(process.pid)
        time.sleep(0.05)
    if process.poll() is None:
        workers = workers or children(process.pid)
        os.kill(process.pid, signal.SIGKILL)
    process.wait()
    drain.join()
    process.stdout.close()
    if kill_after is None:
        assert process.returncode == 0
    return time.monotonic() - started, workers


def test_sigkill_during_bulk_import(tmp_path: Path) -> None:
    source = write_file(tmp_path)
    duration, _ = run_import(tmp_path / "full", source, None)
    rng = random.Random(14)
    for n, delay in enumerate(sorted(rng.uniform(0.3, 1.0) * duration for _ in range(2))):
        store = tmp_path / f"kill{n}"
        _, workers = run_import(store, source, delay)
        catalog = open_catalog(store)  # recovers an interrupted batch
        try:
            stored = assert_index_agrees(catalog)
        finally:
            catalog.close()
        assert len(stored) in (0, 1000, N), delay  # whole batches (or both together)
        # the killed writer's workers do not wait forever for it
        waited = time.monotonic()
        while any(alive(pid) for pid in workers) and time.monotonic() - waited < 60:
            time.sleep(0.2)
        assert not any(alive(pid) for pid in workers), workers
        # and the import is simply run again (upserts): the rest is created, nothing twice
        again = cli(store, "import", "--jobs", "2", str(source))
        out, _ = again.communicate(timeout=600)
        assert again.returncode == 0, out.decode()[-2000:]
        catalog = open_catalog(store)
        try:
            assert len(assert_index_agrees(catalog)) == N
        finally:
            catalog.close()
