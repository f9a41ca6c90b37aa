"""The node's sync state (kg/sync/state.py), on a SQLite file and on PostgreSQL: pushed rows
written in batches, dropped rows gone whether written or still buffered, local-only markings
at once; the sync lock held by one run of the node, also across machines on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from kg.db.database import PostgresDatabase, SqliteDatabase
from kg.settings import Settings
from kg.sync.state import BATCH, Pushed, SyncState, sync_lock

Open = Callable[[], SyncState]


@pytest.fixture(params=["sqlite", "postgresql"])
def open_state(request: pytest.FixtureRequest, tmp_path: Path) -> Open:
    """Opens the one sync database anew each call (as another process would)."""
    if request.param == "sqlite":
        return lambda: SyncState(SqliteDatabase(tmp_path / "sync.sqlite", "sync"))
    url = request.getfixturevalue("postgres_url")
    return lambda: SyncState(PostgresDatabase(url, "sync"))


def row(i: int) -> Pushed:
    return Pushed("datasets", f"data_remote{i}", f"hash{i}", "2026-01-01T00:00:00")


def written(open_state: Open) -> dict[str, Pushed]:
    """What another process would read from the database now."""
    other = open_state()
    try:
        return other.pushed()
    finally:
        other.close()


def test_rows_are_written_in_batches_and_on_flush(
    open_state: Open, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("kg.sync.state.FLUSH_EVERY", 3600.0)  # batches by size only here
    state = open_state()
    try:
        for i in range(BATCH - 1):
            state.record(f"data_{i}", row(i))
        assert written(open_state) == {}  # not one commit per row
        state.record(f"data_{BATCH - 1}", row(BATCH - 1))
        assert len(written(open_state)) == BATCH  # a full batch is written
        state.record("data_last", row(-1))
        state.record("data_0", row(-2))  # a row written before is replaced
        state.flush()
        assert written(open_state)["data_last"] == row(-1)
        assert written(open_state)["data_0"] == row(-2)
        assert len(state.pushed()) == BATCH + 1  # the writer's own view is complete
    finally:
        state.close()


def test_drop_removes_buffered_and_written_rows(open_state: Open) -> None:
    state = open_state()
    state.record("data_a", row(1))
    state.flush()
    state.record("data_b", row(2))
    state.drop("data_a")
    state.drop("data_b")
    state.record("data_c", row(3))
    state.close()  # close writes what is buffered
    assert set(written(open_state)) == {"data_c"}


def test_local_only_is_written_at_once(open_state: Open) -> None:
    state = open_state()
    try:
        state.set_local_only("data_x", True)
        state.set_local_only("data_x", True)  # twice is once
        other = open_state()
        try:
            assert other.local_only() == {"data_x"}
            state.set_local_only("data_x", False)
            assert other.local_only() == set()
        finally:
            other.close()
    finally:
        state.close()


def test_one_sync_run_per_node_across_machines(tmp_path: Path, postgres_url: str) -> None:
    """Two replicas of a node (separate folders: the file lock cannot see the other) on one
    PostgreSQL database: one run holds the sync lock, the other skips; released, it is free."""
    first = Settings(store=str(tmp_path / "a"), database=postgres_url)
    second = Settings(store=str(tmp_path / "b"), database=postgres_url)
    with sync_lock(first) as mine:
        assert mine
        with sync_lock(second) as theirs:
            assert not theirs
    with sync_lock(second) as theirs:
        assert theirs
