"""Per-docno lists (label ids, keywords) as growable CSR arrays, for the ranking's vectorised
gathers: the best label of each candidate and the keyword facet, without a Python loop per
document.

Built from the index's columns on first use and extended as documents are appended (a docno's
lists never change: a replaced document gets a new docno); the buffers grow by doubling, so
appends cost amortised O(new rows). Kept in memory only: they are derived from ``docs.pkl``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
IdArray = npt.NDArray[np.int32]


class RowLists:
    """``getattr(cols, column)[docno]`` for every docno, in CSR form (``indptr``, ``flat``).
    With ``named``, the lists hold strings, numbered in ``names`` (ids in order of first
    sight); otherwise they are arrays of int32 ids already."""

    def __init__(self, cols: Any, column: str, named: bool = False) -> None:
        self.cols = cols
        self.column = column
        self.names: list[str] | None = [] if named else None
        self._ids: dict[str, int] = {}
        self.rows = 0
        self.size = 0
        self._indptr = np.zeros(1024, dtype=np.int64)
        self._flat = np.zeros(4096, dtype=np.int32)
        self._row_of: IntArray | None = None

    def extend(self) -> RowLists:
        """Take in the documents appended since the last call."""
        n = self.cols.n
        if self.rows >= n:
            return self
        fresh = getattr(self.cols, self.column)[self.rows : n]
        sizes = np.fromiter(map(len, fresh), dtype=np.int64, count=len(fresh))
        ends = self.size + np.cumsum(sizes)
        total = int(ends[-1]) if len(ends) else self.size
        self._indptr = _room(self._indptr, n + 1)
        self._flat = _room(self._flat, total)
        self._indptr[self.rows + 1 : n + 1] = ends
        if total > self.size:
            if self.names is None:
                values = np.concatenate(fresh)
            else:
                values = np.fromiter(
                    (self._id(v) for row in fresh for v in row),
                    dtype=np.int32,
                    count=total - self.size,
                )
            self._flat[self.size : total] = values
        self.rows, self.size = n, total
        self._row_of = None
        return self

    def _id(self, name: str) -> int:
        found = self._ids.get(name)
        if found is None:
            assert self.names is not None
            found = self._ids[name] = len(self.names)
            self.names.append(name)
        return found

    @property
    def indptr(self) -> IntArray:
        return self._indptr[: self.rows + 1]

    @property
    def flat(self) -> IdArray:
        return self._flat[: self.size]

    def gather(self, docnos: IntArray) -> tuple[IdArray, IntArray, npt.NDArray[np.bool_]]:
        """The lists of ``docnos`` concatenated, where each non-empty one starts in that
        concatenation, and which of ``docnos`` have a non-empty list (a ragged gather)."""
        starts = self.indptr[docnos]
        sizes = self.indptr[docnos + 1] - starts
        has = sizes > 0
        starts, sizes = starts[has], sizes[has]
        offsets = np.cumsum(sizes) - sizes
        positions = np.repeat(starts - offsets, sizes) + np.arange(int(sizes.sum()))
        return self.flat[positions], offsets, has

    def counts(self, docnos: IntArray) -> IntArray:
        """How many of ``docnos`` carry each id (``bincount`` over their lists)."""
        width = len(self.names) if self.names is not None else 0
        if len(docnos) * 8 < self.rows:
            values, _, _ = self.gather(docnos)
        else:  # most of the index: a mask over the flat array beats a ragged gather
            selected = np.zeros(self.rows, dtype=bool)
            selected[docnos] = True
            values = self.flat[selected[self._rows_of_flat()]]
        return np.bincount(values, minlength=width)

    def _rows_of_flat(self) -> IntArray:
        if self._row_of is None:
            sizes = np.diff(self.indptr)
            self._row_of = np.repeat(np.arange(self.rows, dtype=np.int64), sizes)
        return self._row_of


def _room(array: Any, needed: int) -> Any:
    """``array``, or a copy at least twice as long if it is shorter than ``needed``."""
    if len(array) >= needed:
        return array
    grown = np.zeros(max(needed, 2 * len(array)), dtype=array.dtype)
    grown[: len(array)] = array
    return grown
