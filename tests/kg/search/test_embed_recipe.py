"""The ONNX export recipe and the batch workers of kg/search/embed_onnx.py (issue 14): the
graph onnxruntime runs has none of the fusions whose CPU kernels are slower than the operators
they replace, batches run in parallel give exactly the vectors of one thread, and the recipe is
part of what an index records. Real model, real onnxruntime sessions.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import onnx

from kg.search import embed
from kg.search.embed import MINILM, ONNX, ONNX_INT8, TORCH, embedder_id
from kg.search.embed_onnx import (
    FP32_FILE,
    INT8_FILE,
    RECIPE,
    OnnxMiniLMEmbedder,
    _session,
    ensure_export,
)
from tests.support.data import SEARCH_EVAL

SLOW_KERNELS = {"SkipLayerNormalization", "BiasGelu"}


def corpus_texts() -> list[str]:
    lines = (SEARCH_EVAL / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines if line.strip()]
    return [f"{i['name']}. {i['description']} {'; '.join(i['tags'])}" for i in items]


def test_the_graph_run_has_no_slow_fused_kernels(tmp_path: Path) -> None:
    folder = ensure_export(embed.default_cache_dir())
    for name in (FP32_FILE, INT8_FILE):
        exported = Counter(n.op_type for n in onnx.load(str(folder / name)).graph.node)
        assert not SLOW_KERNELS & set(exported), exported
        assert exported["LayerNormalization"] == 12  # two per layer, unfused
        # onnxruntime's own optimiser does not fuse them back when the session starts
        _session(folder / name, 1, optimized=tmp_path / name)
        running = Counter(n.op_type for n in onnx.load(str(tmp_path / name)).graph.node)
        assert not SLOW_KERNELS & set(running), running
        assert running["QAttention" if name == INT8_FILE else "Attention"] == 6


def test_parallel_batches_give_the_vectors_of_one_thread() -> None:
    texts = corpus_texts()  # 186 texts of 10-128 tokens: 6 batches of 32
    for quantised in (True, False):
        embedder = OnnxMiniLMEmbedder(embed.default_cache_dir(), quantised=quantised, threads=2)
        alone = embedder.encode(texts, threads=1)
        together = embedder.encode(texts)  # two workers, interleaved shares of the batches
        assert embedder._pool is not None and embedder._pool._max_workers == 2
        np.testing.assert_array_equal(alone, together)
        # more workers than batches, and a batch size that leaves a short last batch (other
        # batches: int8 quantises activations per batch, so vectors move a little)
        embedder.batch_size = 50
        cosines = (embedder.encode(texts, threads=8) * alone).sum(axis=1)
        assert cosines.min() >= (0.98 if quantised else 0.9999), cosines.min()
        assert np.allclose(np.linalg.norm(embedder.encode(texts[:3], threads=8), axis=1), 1.0)


def test_the_recipe_and_token_limit_name_the_vectors(monkeypatch: object) -> None:
    assert embedder_id(MINILM, ONNX_INT8) == f"minilm/onnx-int8-r{RECIPE}/{embed.MAX_TOKENS}"
    assert embedder_id(MINILM, ONNX) == f"minilm/onnx-r{RECIPE}/{embed.MAX_TOKENS}"
    assert embedder_id(MINILM, TORCH) == f"minilm/torch/{embed.MAX_TOKENS}"  # no export
    shipped = embed.MAX_TOKENS
    try:
        embed.MAX_TOKENS = 64
        assert embedder_id(MINILM, ONNX_INT8).endswith("/64")
    finally:
        embed.MAX_TOKENS = shipped
