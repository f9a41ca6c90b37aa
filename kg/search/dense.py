"""The dense side of search: one vector per indexed document in faiss.

Row ``i`` of the faiss index is docno ``i``: rows are only appended; a replaced or deleted
document's row stays as a tombstone (masked out of every search) until the next rebuild. The
index is exact (``IndexFlatIP``) while small and HNSW once it holds ``hnsw_threshold`` rows.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

from kg.search.embed import Vectors

HNSW_M = 32
EF_CONSTRUCTION = 80
EF_SEARCH = 64
EXACT_BELOW = 20_000  # a filtered search over fewer rows than this is done exactly


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

    def vectors(self, docnos: npt.NDArray[np.int64]) -> Vectors:
        if len(docnos) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids = np.ascontiguousarray(docnos, dtype=np.int64)
        return np.asarray(self.index.reconstruct_batch(ids), dtype=np.float32)

    def search(
        self,
        query: Vectors,
        k: int,
        mask: npt.NDArray[np.bool_] | None = None,
        selected: int | None = None,
    ) -> dict[int, float]:
        """Top ``k`` rows by inner product among rows where ``mask`` is true."""
        n = self.size
        if n == 0 or k <= 0:
            return {}
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        if mask is not None:
            mask = mask[:n]
            selected = int(mask.sum()) if selected is None else selected
            if selected == 0:
                return {}
            if self.is_hnsw and selected < EXACT_BELOW:
                rows = np.flatnonzero(mask)
                sims = self.vectors(rows) @ q[0]
                top = np.argsort(-sims)[:k]
                return {int(rows[i]): float(sims[i]) for i in top}
            bitmap = np.packbits(mask.astype(np.uint8), bitorder="little")
            selector = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bitmap))
            params: faiss.SearchParameters
            if self.is_hnsw:
                params = faiss.SearchParametersHNSW(  # type: ignore[attr-defined]
                    sel=selector, efSearch=max(EF_SEARCH, k)
                )
            else:
                params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
            scores, ids = self.index.search(q, min(k, selected), params=params)
        else:
            if self.is_hnsw:
                params = faiss.SearchParametersHNSW(  # type: ignore[attr-defined]
                    efSearch=max(EF_SEARCH, k)
                )
                scores, ids = self.index.search(q, min(k, n), params=params)
            else:
                scores, ids = self.index.search(q, min(k, n))
        return {int(i): float(s) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0}

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
