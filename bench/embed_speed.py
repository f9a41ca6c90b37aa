"""Embedding speed and quality of MiniLM's back ends (torch, onnx, onnx-int8) and the static model.

    python bench/embed_speed.py [--variants torch,onnx,onnx-int8,onnx-int8:64@16/1,static] \
        [--texts 5000] [--torch-texts 500] [--queries 200] [--no-quality] [--breakdown]

For each variant: texts/s (wall) and texts per CPU-second of this process embedding the
search-eval corpus (tests/data/search-eval, as the index embeds it: ``SearchDocument.dense_text``)
and ~5k demo-like texts (bench/search_speed.py's synthetic assets), single-query latency p50/p99
(``encode([query])``, the query path), and nDCG@10 (hybrid and dense-only) from
bench/search_quality.py run with that back end, on the dev and the validation queries.
A variant is ``backend[:N][@B][/T]``: at most N tokens of a text, batches of B texts, T threads
(ONNX back ends; defaults as shipped). ``--breakdown`` prints where an ONNX back end's time goes:
tokenising vs the model, and the padding of each batch size. The load average is printed beside
every figure: on a shared machine the wall rates move with the load, the per-CPU-second ones less.
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
from typing import Any

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


def load_figure() -> str:
    return f"{os.getloadavg()[0]:.1f}"


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


VARIANT = re.compile(
    r"^(?P<backend>[a-z0-9-]+)(?::(?P<tokens>\d+))?(?:@(?P<batch>\d+))?(?:/(?P<threads>\d+))?$"
)


def parse_variant(variant: str) -> tuple[str, int | None, int | None, int | None]:
    """``backend[:tokens][@batch][/threads]`` -> (backend, tokens, batch, threads)."""
    found = VARIANT.match(variant)
    if not found:
        raise SystemExit(f"bad variant {variant!r}: backend[:tokens][@batch][/threads]")
    numbers = [int(x) if x else None for x in found.group("tokens", "batch", "threads")]
    return found.group("backend"), numbers[0], numbers[1], numbers[2]


def make_embedder(backend: str, tokens: int, batch: int | None, threads: int | None) -> Any:
    from kg.search import embed

    if backend == "static":
        return embed.get_embedder(embed.STATIC, embed.default_cache_dir())
    if backend == "torch":
        return embed.MiniLMEmbedder(max_seq_length=tokens, batch_size=batch or 64)
    from kg.search.embed_onnx import BATCH_SIZE, OnnxMiniLMEmbedder

    return OnnxMiniLMEmbedder(
        embed.default_cache_dir(),
        quantised=backend == embed.ONNX_INT8,
        max_tokens=tokens,
        batch_size=batch or BATCH_SIZE,
        threads=threads,
    )


def padded(lengths: list[int], size: int) -> int:
    """Tokens fed to the model in batches of ``size`` texts, each padded to its longest."""
    return sum(
        max(lengths[s : s + size]) * len(lengths[s : s + size])
        for s in range(0, len(lengths), size)
    )


def breakdown(embedder: Any, texts: list[str]) -> None:
    """Tokenising vs the model (CPU time, one thread), and padding per batch size."""
    started = time.process_time()
    ids = embedder.tokenize(texts)
    tokenise = time.process_time() - started
    started = time.process_time()
    embedder.encode(texts, threads=1)
    total = time.process_time() - started
    lengths = [len(x) for x in ids]
    real, cut = sum(lengths), embedder.max_tokens
    print(
        f"  breakdown: {len(texts)} texts, {real / len(lengths):.1f} tokens on average "
        f"({sum(n >= cut for n in lengths) / len(lengths):.1%} cut at {cut}); tokenising "
        f"{1000 * tokenise / len(texts):.2f} ms of CPU per text ({tokenise / total:.1%} of "
        f"encode), the model {1000 * (total - tokenise) / len(texts):.2f} ms"
    )
    for size in (8, 16, 32, 64, 128):
        by_length, as_given = padded(sorted(lengths), size), padded(lengths, size)
        print(
            f"  batch {size:3d}: padding {by_length / real - 1:6.1%} of the tokens sorted by "
            f"length, {as_given / real - 1:6.1%} unsorted ({cut * len(lengths) / real - 1:.1%} "
            f"padded to {cut})"
        )


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
    parser.add_argument("--breakdown", action="store_true", help="tokenising vs model, padding")
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
        backend, tokens, batch, threads = parse_variant(variant)
        embed.MAX_TOKENS = tokens or shipped_tokens
        started = time.perf_counter()
        embedder = make_embedder(backend, embed.MAX_TOKENS, batch, threads)
        loaded = time.perf_counter() - started
        embedder.encode(corpus[:32])  # warm up
        texts = demo[: args.torch_texts] if backend == "torch" else demo
        eval_rate, eval_cpu = rate(embedder, corpus)
        eval_load = load_figure()
        demo_rate, demo_cpu = rate(embedder, texts)
        demo_load = load_figure()
        p50, p99 = latency(embedder, queries)
        print(
            f"{variant:18s} eval {eval_rate:5.0f} texts/s {eval_cpu:5.0f} texts/CPU-s (load "
            f"{eval_load}) | demo {demo_rate:5.0f} texts/s {demo_cpu:5.0f} texts/CPU-s "
            f"({len(texts)} texts, load {demo_load}) | query p50 {p50:5.1f} ms p99 {p99:5.1f} ms "
            f"({len(queries)} queries, load {load_figure()}) | loaded in {loaded:.1f} s",
            flush=True,
        )
        if args.breakdown and backend not in ("static", "torch"):
            breakdown(embedder, texts)
        if not args.no_quality:
            for line in quality(backend, tokens):
                print(f"{variant:18s} ndcg@10 {line} (load {load_figure()})", flush=True)
    print(load())
    return 0


if __name__ == "__main__":
    sys.exit(main())
