"""The shared state of ``serve --workers``, in process: the catalogue index's change feed (each
write appends its rows in its transaction, named by the writing index; a follower hands on the
other writers' changes and starts over after a gap or a clear) and the write lock, which a
second process cannot take while one holds it. The feed on both engines (``open_index``: a
SQLite file, or a PostgreSQL database shared by two "replicas"); on PostgreSQL two indexes
writing at once from several threads keep it gapless and complete."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from kg.db.locks import ProcessLock
from kg.store.feed import FeedFollower
from kg.store.index import CatalogIndex, Entry


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


def test_the_feed_hands_on_other_writers_changes_in_order(
    open_index: Callable[[], CatalogIndex],
) -> None:
    mine, theirs = open_index(), open_index()
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


def test_a_follower_behind_the_kept_feed_starts_over(
    open_index: Callable[[], CatalogIndex],
) -> None:
    index = open_index()
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
    assert isinstance(lock, ProcessLock)  # a SQLite file: a file lock beside it
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


def test_a_rolled_back_write_leaves_no_gap(open_index: Callable[[], CatalogIndex]) -> None:
    """A write that fails (here: a second live row for one platform id) takes no feed number:
    the next write's follows the last committed one, and a follower reads no gap."""
    index, other = open_index(), open_index()
    index.commit_entries([_entry("data_a")])
    recorder = Recorder()
    follower = FeedFollower(index, recorder.apply, recorder.restart)
    clash = Entry("data_z", "datasets", "example", "data_a", "published", "2024-01-01", "2024")
    with pytest.raises(other.database.integrity_errors):
        other.commit_entries([_entry("data_b"), clash])
    other.commit_entries([_entry("data_c")])
    assert [n for n, *_ in other.feed_since(0)[0]] == [1, 2]
    assert follower.poll() == 1
    assert recorder.applied == [("data_c", "datasets")] and recorder.restarts == 0


@pytest.mark.parametrize("open_index", ["postgresql"], indirect=True)
def test_two_replicas_writing_at_once_keep_the_feed_gapless_and_complete(
    open_index: Callable[[], CatalogIndex],
) -> None:
    """Two indexes on one PostgreSQL database (two replicas), four writer threads each: every
    committed change is in the feed once, numbered 1..N without a gap, each writer's in its
    order; a follower on a third index hands on all of them."""
    replicas = [open_index(), open_index()]
    watcher = open_index()
    recorder = Recorder()
    follower = FeedFollower(watcher, recorder.apply, recorder.restart)
    errors: list[BaseException] = []

    def write(replica: CatalogIndex, name: str) -> None:
        try:
            for k in range(15):
                batch = [_entry(f"data_{name}_{k}_{j}") for j in range(1 + k % 3)]
                replica.commit_entries(batch)
            replica.close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(replica, f"r{r}w{w}"))
        for r, replica in enumerate(replicas)
        for w in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    rows, complete = watcher.feed_since(0, limit=10_000)
    written = 8 * sum(1 + k % 3 for k in range(15))
    assert complete and [n for n, *_ in rows] == list(range(1, written + 1))
    assert watcher.feed_last() == written
    identifiers = [i for _, i, _, _ in rows]
    assert len(set(identifiers)) == written
    for r in range(2):
        for w in range(4):
            mine = [i for i in identifiers if i.startswith(f"data_r{r}w{w}_")]
            assert mine == sorted(mine, key=lambda i: [int(p) for p in i.split("_")[2:]])
    while follower.poll():
        pass
    assert recorder.restarts == 0
    assert sorted(i for i, _ in recorder.applied) == sorted(identifiers)
    assert {e.origin for e in replicas} == {o for *_, o in rows}
