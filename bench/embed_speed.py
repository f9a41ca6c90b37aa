"""Embedding speed and quality of MiniLM's back ends (torch, onnx, onnx-int8) and the static model.

    python bench/embed_speed.py [--variants torch,onnx,onnx-int8,onnx-int8:64,static] \
        [--texts 5000] [--torch-texts 500] [--queries 200] [--no-quality]

For each variant: assets/s embedding the search-eval corpus (tests/data/search-eval, as the
index embeds it: ``SearchDocument.dense_text``) and ~5k demo-like texts (bench/search_speed.py's
synthetic assets), single-query latency p50/p99 (``encode([query])``, the query path), and
nDCG@10 (hybrid and dense-only) from bench/search_quality.py run with that back end, on the dev
and the validation queries. ``backend:N`` reads at most N tokens of a text. The machine and its
load average are printed first and last: on a shared machine the rates move with the load.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import describe

REPO = Path(__file__).resolve().parent.parent
EVAL = REPO / "tests" / "data" / "search-eval"
QUERY_SETS = (EVAL / "dev_queries.jsonl", REPO / "bench" / "queries" / "search_val_queries.jsonl")


def eval_texts() -> list[str]:
    from kg.search.text import SearchDocument

    items = [json.loads(x) for x in (EVAL / "corpus.jsonl").read_text().splitlines() if x]
    return [
        SearchDocument(
            identifier=str(item["id"]),
            type="datasets",
            name=item["name"],
            description=item["description"],
            keywords=tuple(item["tags"]),
            labels=tuple(item["tags"]),
        ).dense_text
        for item in items
    ]


def query_texts(n: int) -> list[str]:
    from bench.search_speed import queries

    return [q.text for q in queries(n)]


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def rate(embedder: object, texts: list[str]) -> tuple[float, float]:
    """Texts per second of wall time, and per CPU-second of this process (which moves less
    with the machine's load: on an idle machine, wall rate ~ CPU rate x threads used)."""
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(texts), 512):  # the index embeds batches of up to 512
        embedder.encode(texts[start : start + 512])  # type: ignore[attr-defined]
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return len(texts) / wall, len(texts) / max(cpu, 1e-9)


def latency(embedder: object, queries: list[str]) -> tuple[float, float]:
    timings = []
    for text in queries:
        started = time.perf_counter()
        embedder.encode([text])  # type: ignore[attr-defined]
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[min(len(timings) - 1, int(len(timings) * 0.99))]


def quality(backend: str, tokens: int | None) -> list[str]:
    """Hybrid and dense-only nDCG@10 of bench/search_quality.py for each query set."""
    figures = []
    for queries in QUERY_SETS:
        model = "static" if backend == "static" else "minilm"
        cmd = [
            sys.executable,
            str(REPO / "bench" / "search_quality.py"),
            "--corpus",
            str(EVAL / "corpus.jsonl"),
            "--queries",
            str(queries),
            "--model",
            model,
        ]
        if backend != "static":
            cmd += ["--backend", backend]
        if tokens:
            cmd += ["--max-tokens", str(tokens)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO).stdout
        hybrid = re.findall(r"^hybrid\s+ndcg@10=([0-9.]+)", out, re.M)[-1]
        dense = re.findall(r"^dense-only\s+ndcg@10=([0-9.]+)", out, re.M)[-1]
        name = "dev" if queries.stem.startswith("dev") else "val"
        figures.append(f"{name} hybrid {hybrid} dense {dense}")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default="torch,onnx,onnx-int8,static")
    parser.add_argument("--texts", type=int, default=5000, help="demo-like texts to embed")
    parser.add_argument("--torch-texts", type=int, default=500, help="fewer for torch (slow)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-quality", action="store_true", help="skip the nDCG runs")
    args = parser.parse_args(argv)

    from bench.search_speed import make_documents
    from kg.search import embed

    print(describe(("torch", "sentence-transformers", "onnxruntime", "tokenizers", "model2vec")))
    print(load(), flush=True)
    corpus = eval_texts()
    demo = [d.dense_text for d in make_documents(args.texts)]
    queries = query_texts(args.queries)
    shipped_tokens = embed.MAX_TOKENS
    for variant in [v for v in args.variants.split(",") if v]:
        backend, _, tokens_text = variant.partition(":")
        tokens = int(tokens_text) if tokens_text else None
        embed.MAX_TOKENS = tokens or shipped_tokens
        started = time.perf_counter()
        if backend == "static":
            embedder = embed.get_embedder(embed.STATIC, embed.default_cache_dir())
        else:
            embedder = embed.get_embedder(embed.MINILM, backend=backend)
        loaded = time.perf_counter() - started
        embedder.encode(corpus[:32])  # warm up
        texts = demo[: args.torch_texts] if backend == "torch" else demo
        eval_rate, eval_cpu = rate(embedder, corpus)
        demo_rate, demo_cpu = rate(embedder, texts)
        p50, p99 = latency(embedder, queries)
        print(
            f"{variant:14s} eval {eval_rate:5.0f} assets/s ({eval_cpu:.0f}/CPU-s) | demo "
            f"{demo_rate:5.0f} assets/s ({demo_cpu:.0f}/CPU-s, {len(texts)} texts) | "
            f"query p50 {p50:5.1f} ms p99 {p99:5.1f} ms "
            f"({len(queries)} queries) | loaded in {loaded:.1f} s | {load()}",
            flush=True,
        )
        if not args.no_quality:
            for line in quality(backend, tokens):
                print(f"{variant:14s} ndcg@10 {line}", flush=True)
    print(load())
    return 0


if __name__ == "__main__":
    sys.exit(main())
