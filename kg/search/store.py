"""The search index's state and its persistence: what is indexed (numpy columns per document,
filter vocabularies, label and keyword postings, the dense and lexical indexes), how documents
are embedded and written into it, and how it is saved to and loaded from its directory.

Files in the index directory: ``lexical/`` (tantivy), ``dense.faiss`` (and ``full.faiss`` in
fast mode), ``docs.pkl`` (the columns and postings), ``meta.json`` (format version, model,
the MiniLM back end that embedded it, dimension). Anything missing, unreadable or built by
another model or back end is dropped and rebuilt.
"""

from __future__ import annotations

import json
import logging
import pickle
import queue
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from kg.search.dense import DenseIndex
from kg.search.embed import (
    DEFAULT_BACKEND,
    MINILM,
    STATIC,
    Embedder,
    Vectors,
    embedder_id,
    get_embedder,
)
from kg.search.lexical import LexicalIndex
from kg.search.text import SearchDocument, label_text

if TYPE_CHECKING:
    from kg.catalog import Catalog, ChangeEvent

log = logging.getLogger("kg.search.index")

FORMAT_VERSION = 2
FAST = "fast"  # static vectors when written, MiniLM vectors computed in the background
IntArray = npt.NDArray[np.int64]


class _Codes:
    """A small string <-> int vocabulary for a filter column (code 0 is "none")."""

    def __init__(self, values: list[str] | None = None) -> None:
        self.values: list[str] = values or [""]
        self.codes = {v: i for i, v in enumerate(self.values)}

    def code(self, value: str | None) -> int:
        if not value:
            return 0
        found = self.codes.get(value)
        if found is None:
            found = self.codes[value] = len(self.values)
            self.values.append(value)
        return found

    def lookup(self, values: Sequence[str]) -> list[int]:
        return [self.codes[v] for v in values if v in self.codes]


class _Columns:
    """Per-docno metadata, in growable numpy columns (docno = row)."""

    def __init__(self) -> None:
        self.n = 0
        cap = 1024
        self.alive = np.zeros(cap, dtype=bool)
        self.type = np.zeros(cap, dtype=np.int16)
        self.platform = np.zeros(cap, dtype=np.int32)
        self.license = np.zeros(cap, dtype=np.int32)
        self.date = np.full(cap, -1, dtype=np.int32)
        self.full = np.full(cap, -1, dtype=np.int64)  # row of the MiniLM vector (fast mode)
        self.identifiers: list[str] = []
        self.modified: list[str] = []
        self.labels: list[npt.NDArray[np.int32]] = []  # label ids per docno
        self.keywords: list[tuple[str, ...]] = []  # lower-cased keywords per docno

    def grow(self, n: int) -> None:
        cap = len(self.alive)
        if n <= cap:
            return
        new_cap = max(n, cap * 2)
        for name in ("alive", "type", "platform", "license", "date", "full"):
            old = getattr(self, name)
            fill = -1 if name in ("date", "full") else 0
            new = np.full(new_cap, fill, dtype=old.dtype)
            new[:cap] = old
            setattr(self, name, new)


class IndexStore:
    """The index's state, its embedders, writes and persistence (``SearchIndex`` adds the
    catalog sync of ``kg.search.sync`` and the ranking of ``kg.search.ranking``)."""

    def __init__(
        self,
        path: Path | None,
        *,
        model: str = MINILM,
        model_cache: Path | None = None,
        hnsw_threshold: int = 50_000,
        embedders: tuple[Embedder, Embedder] | None = None,
        embedding_backend: str = DEFAULT_BACKEND,
    ) -> None:
        self.path = path
        self.model = model
        self.embedding_backend = embedding_backend
        self.embedding = embedder_id(MINILM, embedding_backend)  # recorded in meta.json
        self.model_cache = model_cache
        self.hnsw_threshold = hnsw_threshold
        self._embedders = embedders
        self._lock = threading.RLock()
        self._queue: queue.Queue[ChangeEvent | None] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._worker: threading.Thread | None = None
        self._catalog: Catalog | None = None
        self._closed = False
        self._dirty = False
        self._last_save = time.monotonic()
        self._query_cache: OrderedDict[tuple[str, str], Vectors] = OrderedDict()
        self.error: BaseException | None = None
        self.background_upgrades = True  # fast mode: compute MiniLM vectors when idle
        self._load()

    # ------------------------------------------------------------------ embedders

    @property
    def doc_embedder(self) -> Embedder:
        return self._get_embedders()[0]

    @property
    def label_embedder(self) -> Embedder:
        return self._get_embedders()[1]

    def _get_embedders(self) -> tuple[Embedder, Embedder]:
        if self._embedders is None:
            cache = self.model_cache or Path.home() / ".cache" / "aiod-kg" / "models"
            label = get_embedder(MINILM, cache, backend=self.embedding_backend)
            static = STATIC if self.model == FAST else self.model
            doc = label if self.model == MINILM else get_embedder(static, cache)
            self._embedders = (doc, label)
        return self._embedders

    def warm_up(self) -> None:
        """Load the models now (they load on first use otherwise)."""
        self._get_embedders()

    def _encode_query(self, embedder: Embedder, text: str) -> Vectors:
        key = (embedder.name, text)
        with self._lock:
            found = self._query_cache.get(key)
            if found is not None:
                self._query_cache.move_to_end(key)
                return found
        vector = embedder.encode([text])[0]
        with self._lock:
            self._query_cache[key] = vector
            if len(self._query_cache) > 1024:
                self._query_cache.popitem(last=False)
        return vector

    # ------------------------------------------------------------------ state

    def _reset_state(self, dim: int | None = None) -> None:
        self.cols = _Columns()
        self.types = _Codes()
        self.platforms = _Codes()
        self.licenses = _Codes()
        self.by_identifier: dict[str, int] = {}
        self.keyword_postings: dict[str, list[int]] = {}
        self.label_ids: dict[str, int] = {}
        self.label_postings: list[list[int]] = []
        self.label_vectors = np.zeros((0, 384), dtype=np.float32)
        self.dead = 0
        self.dim = dim
        self.dense: DenseIndex | None = None
        # fast mode: MiniLM vectors computed in the background, rows -> docnos
        self.full: DenseIndex | None = None
        self.full_docnos: list[int] = []
        self._texts: dict[int, str] = {}  # dense texts waiting for their MiniLM vector
        self._full_rows_cache: IntArray | None = None
        self._row_lists: dict[str, Any] = {}  # labels and keywords per docno (kg.search.csr)

    def _load(self) -> None:
        self._reset_state()
        lexical_path = self.path / "lexical" if self.path else None
        meta = self._read_meta()
        if self.path is not None and meta is None:
            for name in ("lexical", "dense.faiss", "docs.pkl"):
                target = self.path / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        self.lexical = LexicalIndex(lexical_path)
        if meta is None or self.path is None:
            if self.path is not None:
                self.lexical.clear()
            return
        try:
            with open(self.path / "docs.pkl", "rb") as fh:
                state = pickle.load(fh)
            self.dim = int(meta["dim"])
            self.dense = DenseIndex.load(self.path / "dense.faiss", self.dim, self.hnsw_threshold)
        except (OSError, ValueError, KeyError, pickle.UnpicklingError, RuntimeError) as exc:
            log.warning("search index at %s unreadable (%s); it will be rebuilt", self.path, exc)
            self._reset_state()
            self.lexical.clear()
            return
        if state["cols"].n != self.dense.size:  # interrupted between the two writes
            log.warning("search index at %s is inconsistent; it will be rebuilt", self.path)
            self._reset_state()
            self.lexical.clear()
            return
        self.__dict__.update(state)
        if self.model == FAST:
            self._load_full()

    def _load_full(self) -> None:
        assert self.path is not None
        path = self.path / "full.faiss"
        try:
            full = DenseIndex.load(path, 384, self.hnsw_threshold) if path.exists() else None
        except (OSError, ValueError, RuntimeError):
            full = None
        if full is None or full.size != len(self.full_docnos):  # recomputed in the background
            self.full, self.full_docnos = None, []
            self.cols.full[:] = -1
        else:
            self.full = full

    def _read_meta(self) -> dict[str, Any] | None:
        if self.path is None:
            return None
        try:
            meta = json.loads((self.path / "meta.json").read_text())
        except (OSError, ValueError):
            return None
        if meta.get("version") != FORMAT_VERSION or meta.get("model") != self.model:
            return None
        if meta.get("embedding") != self.embedding:
            log.warning(
                "search index at %s was embedded by %s, not %s: it will be re-embedded",
                self.path,
                meta.get("embedding", "minilm/torch"),
                self.embedding,
            )
            return None
        if not (self.path / "dense.faiss").exists() or not (self.path / "docs.pkl").exists():
            return None
        return dict(meta)

    def save(self) -> None:
        """Write the index to disk (tantivy commits as it goes)."""
        if self.path is None:
            return
        if self._closed and threading.current_thread() is self._worker:
            return  # close() saves
        with self._lock:
            self.path.mkdir(parents=True, exist_ok=True)
            self.lexical.commit()
            if self.dense is None:
                self._last_save = time.monotonic()
                self._dirty = False
                return
            self.dense.save(self.path / "dense.faiss")
            if self.full is not None:
                self.full.save(self.path / "full.faiss")
            state = {
                name: getattr(self, name)
                for name in (
                    "cols",
                    "types",
                    "platforms",
                    "licenses",
                    "by_identifier",
                    "keyword_postings",
                    "label_ids",
                    "label_postings",
                    "label_vectors",
                    "dead",
                    "full_docnos",
                )
            }
            tmp = self.path / "docs.pkl.tmp"
            with open(tmp, "wb") as fh:
                pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.replace(self.path / "docs.pkl")
            meta = {
                "version": FORMAT_VERSION,
                "model": self.model,
                "embedding": self.embedding,
                "dim": self.dim,
                "documents": len(self.by_identifier),
                "rows": self.cols.n,
                "hnsw": self.dense.is_hnsw,
            }
            (self.path / "meta.json").write_text(json.dumps(meta, indent=1))
            self._dirty = False
            self._last_save = time.monotonic()

    def __len__(self) -> int:
        return len(self.by_identifier)

    # ------------------------------------------------------------------ writes

    def index_documents(self, docs: Sequence[SearchDocument]) -> None:
        """Embed and index (insert or replace) documents, synchronously."""
        if not docs:
            return
        docs = list({d.identifier: d for d in docs}.values())
        doc_embedder, label_embedder = self._get_embedders()
        vectors = doc_embedder.encode([d.dense_text for d in docs])
        with self._lock:
            new_labels = list(
                dict.fromkeys(
                    lab
                    for d in docs
                    for lab in (x.lower() for x in d.labels)
                    if lab not in self.label_ids
                )
            )
        label_vectors = label_embedder.encode([label_text(x) or x for x in new_labels])
        with self._lock:
            if (
                self._closed
                and self._worker is not None
                and threading.current_thread() is self._worker
            ):
                return  # closed while embedding: the next open's reconcile indexes these
            self._add_labels(new_labels, label_vectors)
            if self.dense is None:
                self.dim = doc_embedder.dim
                self.dense = DenseIndex(doc_embedder.dim, self.hnsw_threshold)
            self._remove([d.identifier for d in docs])
            start = self.dense.size
            cols = self.cols
            cols.grow(start + len(docs))
            for offset, doc in enumerate(docs):
                docno = start + offset
                cols.alive[docno] = True
                cols.type[docno] = self.types.code(doc.type)
                cols.platform[docno] = self.platforms.code(doc.platform)
                cols.license[docno] = self.licenses.code(doc.license)
                cols.date[docno] = doc.date if doc.date is not None else -1
                cols.identifiers.append(doc.identifier)
                cols.modified.append(doc.date_modified)
                ids = np.array(
                    sorted({self.label_ids[x.lower()] for x in doc.labels}), dtype=np.int32
                )
                cols.labels.append(ids)
                for label_id in ids:
                    self.label_postings[label_id].append(docno)
                keywords = tuple(dict.fromkeys(k.lower() for k in doc.keywords))
                cols.keywords.append(keywords)
                for keyword in keywords:
                    self.keyword_postings.setdefault(keyword, []).append(docno)
                self.by_identifier[doc.identifier] = docno
                if self.model == FAST:
                    self._texts[docno] = doc.dense_text
            cols.n = start + len(docs)
            self.dense.add(vectors)
            self.lexical.upsert((start + i, d) for i, d in enumerate(docs))
            self.lexical.commit()
            self._dirty = True

    def _add_labels(self, labels: list[str], vectors: Vectors) -> None:
        fresh = [(x, v) for x, v in zip(labels, vectors, strict=True) if x not in self.label_ids]
        if not fresh:
            return
        for label, _ in fresh:
            self.label_ids[label] = len(self.label_ids)
            self.label_postings.append([])
        stacked = np.stack([v for _, v in fresh]).astype(np.float32)
        if self.label_vectors.shape[0] == 0:
            self.label_vectors = stacked
        else:
            self.label_vectors = np.vstack([self.label_vectors, stacked])

    def _remove(self, identifiers: Iterable[str]) -> list[str]:
        removed = []
        for identifier in identifiers:
            docno = self.by_identifier.pop(identifier, None)
            if docno is None:
                continue
            self.cols.alive[docno] = False
            self._texts.pop(docno, None)
            self.dead += 1
            removed.append(identifier)
        return removed

    def delete(self, identifiers: Iterable[str]) -> None:
        with self._lock:
            removed = self._remove(identifiers)
            if removed:
                self.lexical.delete(removed)
                self.lexical.commit()
                self._dirty = True

    def clear(self) -> None:
        with self._lock:
            self._reset_state()
            self.lexical.clear()
            self._dirty = True
