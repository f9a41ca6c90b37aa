"""The node's sync state (kg/sync/state.py): pushed rows written in batches, dropped rows gone
whether written or still buffered, local-only markings at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from kg.sync.state import BATCH, Pushed, SyncState


def row(i: int) -> Pushed:
    return Pushed("datasets", f"data_remote{i}", f"hash{i}", "2026-01-01T00:00:00")


def written(path: Path) -> dict[str, Pushed]:
    """What another process would read from the file now."""
    other = SyncState(path)
    try:
        return other.pushed()
    finally:
        other.close()


def test_rows_are_written_in_batches_and_on_flush(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("kg.sync.state.FLUSH_EVERY", 3600.0)  # batches by size only here
    path = tmp_path / "sync.sqlite"
    state = SyncState(path)
    try:
        for i in range(BATCH - 1):
            state.record(f"data_{i}", row(i))
        assert written(path) == {}  # not one commit per row
        state.record(f"data_{BATCH - 1}", row(BATCH - 1))
        assert len(written(path)) == BATCH  # a full batch is written
        state.record("data_last", row(-1))
        state.flush()
        assert written(path)["data_last"] == row(-1)
        assert len(state.pushed()) == BATCH + 1  # the writer's own view is complete
    finally:
        state.close()


def test_drop_removes_buffered_and_written_rows(tmp_path: Path) -> None:
    path = tmp_path / "sync.sqlite"
    state = SyncState(path)
    state.record("data_a", row(1))
    state.flush()
    state.record("data_b", row(2))
    state.drop("data_a")
    state.drop("data_b")
    state.record("data_c", row(3))
    state.close()  # close writes what is buffered
    assert set(written(path)) == {"data_c"}


def test_local_only_is_written_at_once(tmp_path: Path) -> None:
    path = tmp_path / "sync.sqlite"
    state = SyncState(path)
    try:
        state.set_local_only("data_x", True)
        other = SyncState(path)
        try:
            assert other.local_only() == {"data_x"}
            state.set_local_only("data_x", False)
            assert other.local_only() == set()
        finally:
            other.close()
    finally:
        state.close()
