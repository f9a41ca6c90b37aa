"""The dense side of search: one vector per indexed document in faiss.

Row ``i`` of the faiss index is docno ``i``: rows are only appended; a replaced or deleted
document's row stays as a tombstone (masked out of every search) until the next rebuild. The
index is exact (``IndexFlatIP``) while small and HNSW once it holds ``hnsw_threshold`` rows.

A search answers numpy arrays (rows, scores), best first: the ranking fuses them without a
Python loop per candidate. Stored vectors are read from a zero-copy numpy view of faiss's flat
storage (both index kinds keep the raw float32 rows), not with ``reconstruct_batch``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from kg.search.embed import Vectors

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float32]

HNSW_M = 32
EF_CONSTRUCTION = 80
EF_SEARCH = 64
EXACT_BELOW = 20_000  # a filtered search over fewer rows than this is done exactly
EF_FILTERED_MAX = 2000  # the most efSearch a filtered HNSW search is given (see below)


class DenseIndex:
    def __init__(self, dim: int, hnsw_threshold: int) -> None:
        self.dim = dim
        self.hnsw_threshold = hnsw_threshold
        self.index: faiss.Index = faiss.IndexFlatIP(dim)

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @property
    def is_hnsw(self) -> bool:
        return isinstance(self.index, faiss.IndexHNSWFlat)

    def add(self, vectors: Vectors) -> None:
        """Append rows (their docnos are ``size .. size + len(vectors) - 1``)."""
        if len(vectors) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if not self.is_hnsw and self.size + len(vectors) >= self.hnsw_threshold:
            self._to_hnsw()
        self.index.add(vectors)

    def _to_hnsw(self) -> None:
        existing = self.vectors(np.arange(self.size))
        self.index = new_hnsw(self.dim)
        if len(existing):
            self.index.add(existing)

    def matrix(self) -> Vectors:
        """Every stored vector, row = docno: a view of faiss's storage, valid until the next
        ``add`` (callers hold the search index's lock)."""
        n = self.size
        if n == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        index: Any = self.index
        flat: Any = faiss.downcast_index(index.storage) if self.is_hnsw else index
        view = faiss.rev_swig_ptr(flat.get_xb(), n * self.dim)
        return np.asarray(view, dtype=np.float32).reshape(n, self.dim)

    def vectors(self, docnos: IntArray) -> Vectors:
        if len(docnos) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.matrix()[np.asarray(docnos, dtype=np.int64)]

    def scores(self, docnos: IntArray, query: Vectors) -> FloatArray:
        """Inner products of these rows with ``query``."""
        if len(docnos) == 0:
            return np.zeros(0, dtype=np.float32)
        return np.asarray(self.vectors(docnos) @ query, dtype=np.float32)

    def search(
        self,
        query: Vectors,
        k: int,
        mask: npt.NDArray[np.bool_] | None = None,
        selected: int | None = None,
    ) -> tuple[IntArray, FloatArray]:
        """The top ``k`` rows by inner product among rows where ``mask`` is true, best first:
        ``(rows, scores)``."""
        n = self.size
        none = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        if n == 0 or k <= 0:
            return none
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        if mask is not None:
            mask = mask[:n]
            selected = int(mask.sum()) if selected is None else selected
            if selected == 0:
                return none
            bitmap = np.packbits(mask.astype(np.uint8), bitorder="little")
            selector = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bitmap))
            index: Any = self.index
            params: faiss.SearchParameters
            if self.is_hnsw and selected < EXACT_BELOW:
                # few rows: exact, on the flat storage under HNSW (it reads only their rows)
                index = faiss.downcast_index(index.storage)
                params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
            elif self.is_hnsw:
                # HNSW explores about efSearch nodes whatever the filter, so a filter passing a
                # share s of the rows brings fewer of them: efSearch grows as 1/s, up to
                # EF_FILTERED_MAX. At 1M rows, k 1,000, a filter passing 1/12 (bench/
                # search_speed.py): efSearch 1,000 brought 756 rows, recall 0.36 of the exact
                # top 1,000, 4.4 ms; 2,000: 906, 0.50, 8.2 ms; 4,000: 987, 0.68, 17 ms; the
                # exact search over those rows: 25 ms
                ef = min(EF_FILTERED_MAX, max(EF_SEARCH, k, k * n // selected))
                params = faiss.SearchParametersHNSW(  # type: ignore[attr-defined]
                    sel=selector, efSearch=ef
                )
            else:
                params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
            scores, ids = index.search(q, min(k, selected), params=params)
        else:
            if self.is_hnsw:
                params = faiss.SearchParametersHNSW(  # type: ignore[attr-defined]
                    efSearch=max(EF_SEARCH, k)
                )
                scores, ids = self.index.search(q, min(k, n), params=params)
            else:
                scores, ids = self.index.search(q, min(k, n))
        found = ids[0] >= 0
        return ids[0][found].astype(np.int64), scores[0][found].astype(np.float32)

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        faiss.write_index(self.index, str(tmp))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path, dim: int, hnsw_threshold: int) -> DenseIndex:
        dense = cls(dim, hnsw_threshold)
        index = faiss.read_index(str(path))
        if index.d != dim:
            raise ValueError(f"{path}: vectors of dimension {index.d}, expected {dim}")
        if isinstance(index, faiss.IndexHNSWFlat):
            index.hnsw.efSearch = EF_SEARCH
        dense.index = index
        return dense


def new_hnsw(dim: int) -> faiss.IndexHNSWFlat:
    index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = EF_CONSTRUCTION
    index.hnsw.efSearch = EF_SEARCH
    return index
