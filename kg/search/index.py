"""The search index: hybrid (BM25 + dense) search over the catalog, kept in sync with it.

Three signals score a document for a query:
- ``dense``: cosine of the query and the document vector (name, start of the description,
  labels; all-MiniLM-L6-v2, or the static model distilled from it for bulk speed);
- ``labels``: the best cosine of the query and any one of the document's curated labels
  (keywords, research areas, ...), each label embedded once with MiniLM and shared by every
  document carrying it; a document without labels gets its dense score here;
- ``lexical``: BM25 (tantivy) normalised by the query's upper bound, in [0, 1].
Hybrid score = dense + labels + LEXICAL_WEIGHT * lexical, over the union of the candidates of
each signal. Filters (type, platform, licence, keyword, date range) apply to every signal.

Persistence: ``<dir>/lexical`` (tantivy), ``dense.faiss``, ``docs.pkl``, ``meta.json``. The
store is the source of truth: on open the index is reconciled with the catalogue index
(assets added, changed or deleted since the last save are re-indexed), and it is rebuilt
when missing or built by another model. Change events from the catalog are queued and
indexed by a background thread; ``flush()`` waits for it.
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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from kg.search.dense import DenseIndex
from kg.search.embed import MINILM, STATIC, Embedder, Vectors, get_embedder
from kg.search.lexical import LexicalFilter, LexicalIndex
from kg.search.text import SearchDocument, document_of, label_text
from kg.store.partition import is_public_status

if TYPE_CHECKING:
    from kg.catalog import Catalog, ChangeEvent

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
FAST = "fast"  # static vectors when written, MiniLM vectors computed in the background
UPGRADE_BATCH = 32
LEXICAL_WEIGHT = 0.3
MIN_CANDIDATES = 100
LABEL_MIN_SIMILARITY = 0.45
LABELS_PER_QUERY = 8
BATCH = 256
SAVE_EVERY_SECONDS = 30.0
# hybrid: all three signals; lexical: BM25; dense: the asset vectors; semantic: dense + labels
# without BM25 (the last three are for comparison: bench/search_quality.py)
Mode = Literal["hybrid", "lexical", "dense", "semantic"]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SearchQuery:
    text: str
    types: Sequence[str] = ()
    platforms: Sequence[str] = ()
    licenses: Sequence[str] = ()
    keywords: Sequence[str] = ()
    date_from: int | None = None  # proleptic ordinals (date.toordinal())
    date_to: int | None = None
    offset: int = 0
    limit: int = 10
    mode: Mode = "hybrid"
    fields: Sequence[str] = ()  # restrict lexical matching to these fields (lexical only)

    @property
    def filter(self) -> LexicalFilter:
        return LexicalFilter(
            self.types, self.platforms, self.licenses, self.keywords, self.date_from, self.date_to
        )


@dataclass(frozen=True)
class Hit:
    identifier: str
    type: str
    score: float
    dense: float = 0.0
    labels: float = 0.0
    lexical: float = 0.0


@dataclass
class SearchResults:
    hits: list[Hit]
    total: int
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


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


class SearchIndex:
    """Hybrid search over one catalog. Thread-safe."""

    def __init__(
        self,
        path: Path | None,
        *,
        model: str = MINILM,
        model_cache: Path | None = None,
        hnsw_threshold: int = 50_000,
        embedders: tuple[Embedder, Embedder] | None = None,
    ) -> None:
        self.path = path
        self.model = model
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
            label = get_embedder(MINILM)
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

    # ------------------------------------------------------------------ catalog sync

    def bind(self, catalog: Catalog) -> None:
        """Use ``catalog`` as the source of truth for ``reconcile``/``rebuild`` (no events)."""
        self._catalog = catalog

    def attach(self, catalog: Catalog) -> None:
        """Follow the catalog: reconcile with it, then index its change events (background)."""
        self._catalog = catalog
        catalog.subscribe(self._on_change)
        self._worker = threading.Thread(target=self._run, name="search-indexer", daemon=True)
        with self._idle:
            self._pending += 1  # the reconcile
        self._worker.start()

    def _on_change(self, event: ChangeEvent) -> None:
        if self._closed:
            return
        if event.kind == "delete" or event.asset is None or not _public(event.asset):
            # an asset that stops being public is hidden at once (no window in which search
            # still finds a new draft or a restricted asset); the indexes drop it in the
            # background with the queued event
            with self._lock:
                docno = self.by_identifier.get(event.identifier)
                if docno is not None:
                    self.cols.alive[docno] = False
        with self._idle:
            self._pending += 1
        self._queue.put(event)

    def flush(self, timeout: float | None = 60.0) -> bool:
        """Wait until every queued change is indexed. True if it was, False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while self._pending > 0:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(remaining)
        if self.error is not None:
            raise RuntimeError(f"search indexing failed: {self.error}") from self.error
        return True

    def _done(self, n: int) -> None:
        with self._idle:
            self._pending -= n
            if self._pending <= 0:
                self._pending = 0
                self._idle.notify_all()

    def _run(self) -> None:
        try:
            self.reconcile()
        except Exception as exc:
            log.exception("search reconcile failed")
            self.error = exc
        finally:
            self._done(1)
        while True:
            upgrading = (
                self.model == FAST
                and self.background_upgrades
                and not self._closed
                and self.pending_upgrades() > 0
            )
            try:
                first = self._queue.get(timeout=0.01 if upgrading else SAVE_EVERY_SECONDS)
            except queue.Empty:
                if upgrading:
                    try:
                        self.upgrade_some()
                        self._maybe_save()
                    except Exception as exc:
                        log.exception("search vector upgrade failed")
                        self.error = exc
                        time.sleep(1.0)
                else:
                    self._maybe_save(force=True)
                continue
            if first is None:
                self._done(0)
                return
            events = [first]
            while len(events) < BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                events.append(item)
            try:
                self._apply(events)
                self._maybe_save()
            except Exception as exc:
                log.exception("search indexing failed")
                self.error = exc
            finally:
                self._done(len(events))

    # ------------------------------------------------------------------ fast mode upgrades

    def pending_upgrades(self) -> int:
        """Live documents still searched by their static vector only (fast mode)."""
        if self.model != FAST:
            return 0
        with self._lock:
            n = self.cols.n
            return int((self.cols.alive[:n] & (self.cols.full[:n] < 0)).sum())

    def upgrade_some(self, batch: int = UPGRADE_BATCH) -> int:
        """Give up to ``batch`` documents their MiniLM vector; returns how many were done."""
        with self._lock:
            n = self.cols.n
            todo = np.flatnonzero(self.cols.alive[:n] & (self.cols.full[:n] < 0))[:batch]
            items = [
                (
                    int(d),
                    self.cols.identifiers[d],
                    self.types.values[self.cols.type[d]],
                    self._texts.get(int(d)),
                )
                for d in todo
            ]
        if not items:
            return 0
        missing = [(i, t) for _, i, t, text in items if text is None]
        fetched = (
            {d.identifier: d.dense_text for d in self._documents_from_store(missing)}
            if missing
            else {}
        )
        texts = [
            text if text is not None else fetched.get(identifier, "")
            for _, identifier, _, text in items
        ]
        # one thread: the background pass leaves the other core to queries and writes
        vectors = self.label_embedder.encode(texts, threads=1)
        with self._lock:
            if self.full is None:
                self.full = DenseIndex(vectors.shape[1], self.hnsw_threshold)
            keep = [
                i
                for i, (docno, identifier, _, _) in enumerate(items)
                if self.by_identifier.get(identifier) == docno and self.cols.full[docno] < 0
            ]
            if keep:
                start = self.full.size
                self.full.add(vectors[keep])
                for offset, i in enumerate(keep):
                    docno = items[i][0]
                    self.cols.full[docno] = start + offset
                    self.full_docnos.append(docno)
                    self._texts.pop(docno, None)
                self._full_rows_cache = None
                self._dirty = True
            return len(keep)

    def wait_upgraded(self, timeout: float | None = None) -> bool:
        """Wait until every document has its MiniLM vector (fast mode)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.pending_upgrades() > 0:
            if self._worker is None or not self.background_upgrades:
                self.upgrade_some(256)
                continue
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _maybe_save(self, force: bool = False) -> None:
        due = time.monotonic() - self._last_save >= SAVE_EVERY_SECONDS
        if self._dirty and (force or due):
            self.save()

    def _apply(self, events: Sequence[ChangeEvent]) -> None:
        latest: dict[str, ChangeEvent] = {}
        for event in events:
            latest[event.identifier] = event
        upserts = [
            document_of(e.asset_type.collection, e.identifier, e.asset)
            for e in latest.values()
            if e.kind == "upsert" and e.asset is not None and _public(e.asset)
        ]
        deletes = [
            e.identifier
            for e in latest.values()
            if e.kind == "delete" or e.asset is None or not _public(e.asset)
        ]
        if deletes:
            self.delete(deletes)
        self.index_documents(upserts)

    def reconcile(self, progress: Callable[[int], None] | None = None) -> tuple[int, int]:
        """Bring the index in line with the catalog: index new or changed assets, drop deleted
        ones. Returns ``(indexed, deleted)``."""
        catalog = self._catalog
        if catalog is None:
            return 0, 0
        with self._lock:
            known = {i: self.cols.modified[d] for i, d in self.by_identifier.items()}
        live: dict[str, str] = {}
        changed: list[tuple[str, str]] = []
        for identifier, type_, modified, status in catalog.index.modified():
            if not is_public_status(status):  # drafts and restricted assets are never found
                continue
            live[identifier] = type_
            if known.get(identifier) != modified:
                changed.append((identifier, type_))
        gone = [i for i in known if i not in live]
        self.delete(gone)
        indexed = 0
        for batch in _chunks(changed, 64):
            if self._closed:  # closing: the next open reconciles the rest
                break
            docs = list(self._documents_from_store(batch))
            self.index_documents(docs)
            indexed += len(docs)
            if progress:
                progress(indexed)
        if indexed or gone:
            self.save()
        return indexed, len(gone)

    def rebuild(self, progress: Callable[[int], None] | None = None) -> int:
        """Drop everything and index every asset of the catalog again."""
        with self._lock:
            self.clear()
        indexed, _ = self.reconcile(progress)
        self.save()
        return indexed

    def _documents_from_store(self, batch: Sequence[tuple[str, str]]) -> Iterator[SearchDocument]:
        from kg.errors import NotFound
        from kg.model.fields import ASSET_TYPES

        catalog = self._catalog
        assert catalog is not None
        for identifier, type_ in batch:
            asset = ASSET_TYPES.get(type_)
            if asset is None:
                continue
            try:
                data = catalog.get(asset, identifier)
            except NotFound:
                continue
            yield document_of(type_, identifier, data)

    def close(self) -> None:
        """Stop the background work (what is not indexed yet is caught up by the next open's
        reconcile) and save."""
        if self._closed:
            return
        self._closed = True
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=10)
        with self._lock:
            if self._dirty:
                self.save()
            self.lexical.close()

    # ------------------------------------------------------------------ reads

    def _mask(self, q: SearchQuery) -> tuple[npt.NDArray[np.bool_] | None, int]:
        """Rows allowed by the filters (None: every live row), and how many there are."""
        cols = self.cols
        n = cols.n
        if q.filter.empty:
            if self.dead == 0:
                return None, n
            mask = cols.alive[:n].copy()
            return mask, int(mask.sum())
        mask = cols.alive[:n].copy()
        for values, column, codes in (
            (q.types, cols.type, self.types),
            (q.platforms, cols.platform, self.platforms),
            (q.licenses, cols.license, self.licenses),
        ):
            if values:
                wanted = codes.lookup(values)
                allowed = np.zeros(n, dtype=bool)
                for code in wanted:  # equality per value: ~10x faster than np.isin
                    allowed |= column[:n] == code
                mask &= allowed
        if q.date_from is not None:
            mask &= cols.date[:n] >= q.date_from
        if q.date_to is not None:
            mask &= (cols.date[:n] <= q.date_to) & (cols.date[:n] >= 0)
        if q.keywords:
            allowed = np.zeros(n, dtype=bool)
            for keyword in q.keywords:
                rows = self.keyword_postings.get(keyword.lower(), [])
                allowed[np.asarray(rows, dtype=np.int64)] = True
            mask &= allowed
        return mask, int(mask.sum())

    def search(self, q: SearchQuery, facets: bool = False) -> SearchResults:
        want = q.offset + q.limit
        k = max(MIN_CANDIDATES, 2 * want)
        text = q.text.strip()
        if not text:
            return self._browse(q, facets)
        mode: Mode = "lexical" if q.fields else q.mode
        need_vectors = mode != "lexical" and len(self) > 0
        q_doc = self._encode_query(self.doc_embedder, text) if need_vectors else None
        q_label = None
        if need_vectors and (mode in ("hybrid", "semantic") or self.model == FAST):
            q_label = (
                q_doc
                if self.label_embedder is self.doc_embedder
                else self._encode_query(self.label_embedder, text)
            )
        with self._lock:
            if self.dense is None or self.cols.n == 0:
                return SearchResults([], 0, {})
            mask, selected = self._mask(q)
            lexical: dict[int, float] = {}
            dense: dict[int, float] = {}
            lex_total = 0
            if mode in ("hybrid", "lexical"):
                fields = list(q.fields) or ["text"]
                lexical, lex_total = self.lexical.search(text, k, q.filter, fields)
                lexical = self._valid(lexical)
            if mode == "lexical":
                scores = lexical
                total = lex_total
                parts: dict[int, tuple[float, float, float]] = {
                    d: (0.0, 0.0, s) for d, s in lexical.items()
                }
            else:
                assert q_doc is not None
                dense = self._dense_search(q_doc, q_label, k, mask, selected)
                if mode == "dense":
                    scores = dense
                    parts = {d: (s, 0.0, 0.0) for d, s in dense.items()}
                else:
                    assert q_label is not None
                    scores, parts = self._fuse(
                        text,
                        q,
                        q_doc,
                        q_label,
                        dense,
                        lexical,
                        mask,
                        k,
                        lexical_weight=LEXICAL_WEIGHT * (mode == "hybrid"),
                    )
                total = len(scores)
            ranked = sorted(scores, key=lambda d: (-scores[d], d))
            page = ranked[q.offset : want]
            hits = [self._hit(d, scores[d], parts[d]) for d in page]
            found = self._facets(ranked) if facets else {}
        return SearchResults(hits, total, found)

    def _full_rows(self) -> IntArray:
        cached = self._full_rows_cache
        if cached is None or len(cached) != len(self.full_docnos):
            cached = np.asarray(self.full_docnos, dtype=np.int64)
            self._full_rows_cache = cached
        return cached

    def _dense_search(
        self,
        q_doc: Vectors,
        q_full: Vectors | None,
        k: int,
        mask: npt.NDArray[np.bool_] | None,
        selected: int,
    ) -> dict[int, float]:
        """Nearest documents; in fast mode from both vector sets, scored by the best vector
        each document has (MiniLM once computed, the static one until then)."""
        assert self.dense is not None
        if self.model != FAST or self.full is None or q_full is None or self.full.size == 0:
            return self.dense.search(q_doc, k, mask, selected)
        n = self.cols.n
        static_only = (self.cols.alive[:n] if mask is None else mask) & (self.cols.full[:n] < 0)
        found = self.dense.search(q_doc, k, static_only)
        rows = self._full_rows()
        allowed = self.cols.alive[rows] if mask is None else mask[rows] & self.cols.alive[rows]
        more = self.full.search(q_full, k, allowed)
        docnos = np.fromiter(set(found) | {int(rows[r]) for r in more}, dtype=np.int64)
        scores = self._dense_scores(docnos, q_doc, q_full)
        return dict(zip(docnos.tolist(), scores.tolist(), strict=True))

    def _dense_scores(
        self, docnos: IntArray, q_doc: Vectors, q_full: Vectors | None
    ) -> npt.NDArray[np.float32]:
        assert self.dense is not None
        scores = np.asarray(self.dense.vectors(docnos) @ q_doc, dtype=np.float32)
        if self.model == FAST and self.full is not None and q_full is not None:
            rows = self.cols.full[docnos]
            has = rows >= 0
            if has.any():
                scores[has] = self.full.vectors(rows[has]) @ q_full
        return scores

    def _valid(self, scores: dict[int, float]) -> dict[int, float]:
        alive = self.cols.alive
        return {d: s for d, s in scores.items() if d < self.cols.n and alive[d]}

    def _fuse(
        self,
        text: str,
        q: SearchQuery,
        q_doc: Vectors,
        q_label: Vectors,
        dense: dict[int, float],
        lexical: dict[int, float],
        mask: npt.NDArray[np.bool_] | None,
        k: int,
        lexical_weight: float,
    ) -> tuple[dict[int, float], dict[int, tuple[float, float, float]]]:
        assert self.dense is not None
        label_sims = (
            self.label_vectors @ q_label
            if len(self.label_vectors)
            else np.zeros(0, dtype=np.float32)
        )
        candidates = set(dense) | set(lexical)
        # documents carrying a label close to the query are candidates too (small postings)
        if len(label_sims):
            if len(label_sims) > LABELS_PER_QUERY:
                top = np.argpartition(-label_sims, LABELS_PER_QUERY)[:LABELS_PER_QUERY]
            else:
                top = np.arange(len(label_sims))
            top = top[np.argsort(-label_sims[top])]
            for label_id in top:
                if label_sims[label_id] < LABEL_MIN_SIMILARITY:
                    break
                rows = self.label_postings[label_id]
                if len(rows) <= k:
                    candidates.update(
                        r for r in rows if self.cols.alive[r] and (mask is None or mask[r])
                    )
        docnos = np.fromiter(candidates, dtype=np.int64, count=len(candidates))
        if len(docnos) == 0:
            return {}, {}
        dense_scores = self._dense_scores(docnos, q_doc, q_label)
        missing = [int(d) for d in docnos if int(d) not in lexical]
        if missing and lexical_weight:
            more, _ = self.lexical.search(text, len(missing), q.filter, within=missing)
            lexical = {**lexical, **self._valid(more)}
        # best label similarity per candidate, vectorised (no labels: the dense score)
        label_lists = [self.cols.labels[d] for d in docnos.tolist()]
        sizes = np.fromiter((len(x) for x in label_lists), dtype=np.int64, count=len(docnos))
        label_best = dense_scores.astype(np.float32).copy()
        has = sizes > 0
        if has.any() and len(label_sims):
            flat = np.concatenate([x for x in label_lists if len(x)])
            starts = np.concatenate([[0], np.cumsum(sizes[has])[:-1]])
            label_best[has] = np.maximum.reduceat(label_sims[flat], starts)
        lex_scores = np.fromiter(
            (lexical.get(d, 0.0) for d in docnos.tolist()), dtype=np.float32, count=len(docnos)
        )
        total = dense_scores + label_best + lexical_weight * lex_scores
        scores = dict(zip(docnos.tolist(), total.tolist(), strict=True))
        parts = {
            d: (float(a), float(b), float(c))
            for d, a, b, c in zip(
                docnos.tolist(),
                dense_scores.tolist(),
                label_best.tolist(),
                lex_scores.tolist(),
                strict=True,
            )
        }
        return scores, parts

    def _hit(self, docno: int, score: float, parts: tuple[float, float, float]) -> Hit:
        return Hit(
            self.cols.identifiers[docno],
            self.types.values[self.cols.type[docno]],
            round(float(score), 6),
            round(parts[0], 6),
            round(parts[1], 6),
            round(parts[2], 6),
        )

    def _browse(self, q: SearchQuery, facets: bool) -> SearchResults:
        """No query text: the filtered documents, in the order they were indexed."""
        with self._lock:
            mask, _ = self._mask(q)
            n = self.cols.n
            rows = np.flatnonzero(mask if mask is not None else self.cols.alive[:n])
            page = rows[q.offset : q.offset + q.limit]
            hits = [self._hit(int(d), 0.0, (0.0, 0.0, 0.0)) for d in page]
            found = self._facets(rows.tolist()) if facets else {}
            return SearchResults(hits, len(rows), found)

    def _facets(self, docnos: Sequence[int], top: int = 20) -> dict[str, dict[str, int]]:
        if not len(docnos):
            return {"type": {}, "platform": {}, "license": {}, "keyword": {}}
        rows = np.asarray(docnos, dtype=np.int64)
        out: dict[str, dict[str, int]] = {}
        for name, column, codes in (
            ("type", self.cols.type, self.types),
            ("platform", self.cols.platform, self.platforms),
            ("license", self.cols.license, self.licenses),
        ):
            counts = np.bincount(column[rows], minlength=len(codes.values))
            order = np.argsort(-counts, kind="stable")
            out[name] = {
                codes.values[c]: int(counts[c]) for c in order[:top] if counts[c] and c != 0
            }
        keyword_counts: dict[str, int] = {}
        for docno in rows.tolist():
            for keyword in self.cols.keywords[docno]:
                keyword_counts[keyword] = keyword_counts.get(keyword, 0) + 1
        ordered = sorted(keyword_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        out["keyword"] = dict(ordered)
        return out

    def similar(
        self, identifier: str, limit: int = 10, types: Sequence[str] = ()
    ) -> list[Hit] | None:
        """Documents whose vectors are nearest to this one's (None if it is not indexed)."""
        with self._lock:
            docno = self.by_identifier.get(identifier)
            if docno is None or self.dense is None:
                return None
            vector = self.dense.vectors(np.array([docno], dtype=np.int64))[0]
            mask, selected = self._mask(SearchQuery("", types=types))
            if mask is None:
                mask = np.ones(self.cols.n, dtype=bool)
            if mask[docno]:
                mask[docno] = False
                selected -= 1
            found = self.dense.search(vector, limit, mask, selected)
            ranked = sorted(found, key=lambda d: (-found[d], d))
            return [self._hit(d, found[d], (found[d], 0.0, 0.0)) for d in ranked]

    def highlight(self, query: str, text: str, max_chars: int = 240) -> str | None:
        return self.lexical.highlight(query, text, max_chars)


def _public(asset: dict[str, Any]) -> bool:
    entry = asset.get("aiod_entry")
    status = entry.get("status") if isinstance(entry, dict) else None
    return is_public_status(status) if status is not None else True


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def open_index(settings: Any, catalog: Catalog | None = None) -> SearchIndex:
    """The search index of ``settings`` (beside the store), attached to ``catalog`` if given."""
    from kg.store.backends import index_path

    path = Path(settings.search_dir) if settings.search_dir else index_path(settings).parent
    index = SearchIndex(
        path / "search" if not settings.search_dir else path,
        model=settings.search_model,
        model_cache=settings.model_cache_path,
        hnsw_threshold=settings.search_hnsw_threshold,
    )
    if catalog is not None:
        index.attach(catalog)
    return index
