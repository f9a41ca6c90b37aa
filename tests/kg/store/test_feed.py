"""The shared state of ``serve --workers``, in process: the catalogue index's change feed (each
write appends its rows in its transaction, named by the writing index; a follower hands on the
other writers' changes and starts over after a gap or a clear) and the write lock, which a
second process cannot take while one holds it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from kg.store.feed import FeedFollower
from kg.store.index import CatalogIndex, Entry
from kg.db.locks import ProcessLock


def _entry(identifier: str, status: str = "published") -> Entry:
    return Entry(identifier, "datasets", "example", identifier, status, "2024-01-01", "2024-01-02")


class Recorder:
    def __init__(self) -> None:
        self.applied: list[tuple[str, str]] = []
        self.restarts = 0

    def apply(self, changes: Sequence[tuple[str, str]]) -> None:
        self.applied.extend(changes)

    def restart(self) -> None:
        self.restarts += 1


def test_the_feed_hands_on_other_writers_changes_in_order(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    mine, theirs = CatalogIndex(path), CatalogIndex(path)
    theirs.commit_entries([_entry("data_a")])  # before the follower: its owner reconciles
    recorder = Recorder()
    follower = FeedFollower(mine, recorder.apply, recorder.restart)
    theirs.commit_entries([_entry("data_b"), _entry("data_c")])
    mine.commit_entries([_entry("data_mine")])  # its own write reached it directly
    theirs.commit_entries([], [("data_b", "datasets")], deleted_at="2024-02-01")
    assert follower.poll() == 4
    assert recorder.applied == [
        ("data_b", "datasets"),
        ("data_c", "datasets"),
        ("data_b", "datasets"),
    ]
    assert follower.poll() == 0 and recorder.restarts == 0
    theirs.clear()  # everything may have changed: compare everything
    assert follower.poll() == 1 and recorder.restarts == 1
    assert follower.position == mine.feed_last()


def test_a_follower_behind_the_kept_feed_starts_over(tmp_path: Path) -> None:
    index = CatalogIndex(tmp_path / "catalog.sqlite")
    index.commit_entries([_entry("data_a")])
    recorder = Recorder()
    follower = FeedFollower(index, recorder.apply, recorder.restart)
    index.commit_entries([_entry("data_b")])
    index.commit_entries([_entry("data_c")])
    with index.transaction() as db:  # as the pruning of old rows does
        db.execute("DELETE FROM feed WHERE n <= ?", (follower.position + 1,))
    follower.poll()
    assert recorder.restarts == 1 and recorder.applied == []
    assert follower.position == index.feed_last()


def test_the_write_lock_excludes_other_processes(tmp_path: Path) -> None:
    index = CatalogIndex(tmp_path / "catalog.sqlite")
    lock = index.write_lock()
    probe = (
        "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT);"
        " fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)"
    )

    def other_process_may_lock() -> bool:
        assert lock.path is not None
        run = subprocess.run([sys.executable, "-c", probe, str(lock.path)], capture_output=True)
        return run.returncode == 0

    with lock, lock:  # re-entrant within a thread
        assert not other_process_may_lock()
    assert other_process_may_lock()
    lock.close()
    assert ProcessLock(None).acquire()  # an in-memory catalog: threads only
