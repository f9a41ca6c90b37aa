"""Search speed: indexing assets/s and query latency (p50/p99, embedding included).

    python bench/search_speed.py [--sizes 100000,1000000] [--model minilm|static|fast] \
        [--backend onnx-int8|onnx|torch] [--minilm-sample 2000] [--queries 200] \
        [--index-dir DIR]

Without options it measures the server's default search configuration (the Settings defaults:
``search_model``, ``embedding_backend``).

Synthetic assets are made from the search-eval corpus in tests/data/search-eval (names,
~50-word descriptions of real sentences, 2-4 labels from a pool of real tags and synthetic
keywords) and indexed by
``SearchIndex.index_documents`` in batches of 512: the search index's own cost (embedding,
tantivy, faiss, labels), not the catalog's (validation, store). For each size: indexing
rate, then hybrid queries (a third of them filtered) with p50/p99 wall time per query, then
the same queries with their vectors cached (the ranking alone).
``--minilm-sample`` also indexes that many assets with the full MiniLM model, to compare
indexing rates. ``--index-dir`` keeps the indexes there and reuses one already built for a size
(to compare ranking changes on the same index without re-embedding). Every figure is printed
with the machine's load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import describe

SHARED = Path(__file__).resolve().parent.parent / "tests" / "data" / "search-eval"
TYPES = ("datasets", "ml_models", "publications")
PLATFORMS = ("huggingface", "openml", "zenodo", "aiod")
LICENSES = (
    "https://opensource.org/licenses/MIT",
    "https://creativecommons.org/licenses/by/4.0/",
    None,
)


def sentences_and_tags() -> tuple[list[str], list[str], list[str], list[str]]:
    corpus = [json.loads(line) for line in (SHARED / "corpus.jsonl").read_text().splitlines()]
    sentences: list[str] = []
    words: set[str] = set()
    for item in corpus:
        for sentence in item["description"].replace("\n", " ").split(". "):
            if 5 <= len(sentence.split()) <= 40:
                sentences.append(sentence.strip().rstrip(".") + ".")
                words.update(w.lower() for w in sentence.split() if w.isalpha() and len(w) > 3)
    tags = sorted({t for item in corpus for t in item["tags"]})
    names = [item["name"] for item in corpus]
    return sentences, tags, names, sorted(words)


def make_documents(n: int, seed: int = 7) -> list:
    from kg.search.text import SearchDocument

    rng = random.Random(seed)
    sentences, tags, names, words = sentences_and_tags()
    keywords = tags + [
        f"{a} {b}"
        for a, b in zip(rng.choices(words, k=20_000), rng.choices(words, k=20_000), strict=True)
    ]
    docs = []
    for i in range(n):
        description = " ".join(rng.choices(sentences, k=3))
        labels = tuple(dict.fromkeys(rng.choices(tags, k=2) + rng.choices(keywords, k=2)))
        docs.append(
            SearchDocument(
                identifier=f"data_{i:024d}",
                type=rng.choice(TYPES),
                name=f"{rng.choice(names)} {i}",
                description=description,
                keywords=labels,
                labels=labels,
                platform=rng.choice(PLATFORMS),
                license=rng.choice(LICENSES),
                date=730_000 + rng.randrange(9000),
                date_modified="2026-01-01T00:00:00",
            )
        )
    return docs


def queries(n: int, seed: int = 11) -> list:
    from kg.search.index import SearchQuery

    rng = random.Random(seed)
    texts = [
        json.loads(line)["query"]
        for f in (
            SHARED / "dev_queries.jsonl",
            Path(__file__).parent / "queries" / "search_val_queries.jsonl",
        )
        for line in f.read_text().splitlines()
        if line.strip()
    ]
    _, _, names, words = sentences_and_tags()
    out = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            text = rng.choice(texts)
        elif kind == 1:
            text = f"{rng.choice(names)} {' '.join(rng.choices(words, k=2))}"
        else:
            text = " ".join(rng.choices(words, k=rng.randint(2, 6)))
        filtered = i % 3 == 2
        out.append(
            SearchQuery(
                text,
                types=[rng.choice(TYPES)] if filtered else (),
                platforms=[rng.choice(PLATFORMS)] if filtered else (),
            )
        )
    return out


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f}/{five:.2f}"


def index_rate(index, docs: list, batch: int = 512, label: str = "") -> float:
    started = time.perf_counter()
    last = started
    for start in range(0, len(docs), batch):
        index.index_documents(docs[start : start + batch])
        now = time.perf_counter()
        if now - last > 30:
            done = start + batch
            print(f"  {label}{done} indexed, {done / (now - started):.0f} assets/s", flush=True)
            last = now
    return len(docs) / (time.perf_counter() - started)


def latency(index, qs: list, embed: bool) -> tuple[float, float]:
    """p50 and p99 wall time of ``qs`` in ms; ``embed``: every query embedded afresh."""
    timings = []
    for q in qs:
        if embed:
            index._query_cache.clear()
        t = time.perf_counter()
        index.search(q)
        timings.append((time.perf_counter() - t) * 1000)
    timings.sort()
    return statistics.median(timings), timings[min(len(timings) - 1, int(len(timings) * 0.99))]


def main(argv: list[str] | None = None) -> int:
    from kg.settings import Settings

    defaults = Settings.model_fields
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument(
        "--model",
        choices=("minilm", "static", "fast"),
        default=defaults["search_model"].default,
        help="document vectors (AIOD_KG_SEARCH_MODEL; default: the server's)",
    )
    parser.add_argument(
        "--backend",
        choices=("onnx-int8", "onnx", "torch"),
        default=defaults["embedding_backend"].default,
        help="how MiniLM runs (AIOD_KG_EMBEDDING_BACKEND; default: the server's)",
    )
    parser.add_argument("--minilm-sample", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--index-dir", type=Path, default=None, help="keep (and reuse) the indexes here"
    )
    args = parser.parse_args(argv)

    from kg.search.embed import MINILM, embedder_id
    from kg.search.index import SearchIndex

    packages = ("faiss-cpu", "tantivy", "sentence-transformers", "torch", "onnxruntime")
    print(describe((*packages, "model2vec", "numpy")))
    print(f"model {args.model}, MiniLM {embedder_id(MINILM, args.backend)}")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    made: list = []

    def docs() -> list:
        """The synthetic assets, made on first need (not when every index is reused): a
        million of them held through the measurements would leave the collector a million
        more objects to walk than a server has."""
        if not made:
            made.extend(make_documents(max([*sizes, args.minilm_sample])))
        return made

    qs = queries(args.queries)
    with tempfile.TemporaryDirectory(prefix="aiodkg-searchs-") as tmp_dir:
        tmp = str(args.index_dir) if args.index_dir else tmp_dir
        if args.minilm_sample:
            index = SearchIndex(
                Path(tmp) / "minilm", model="minilm", embedding_backend=args.backend
            )
            index.warm_up()
            index.index_documents(docs()[:64])  # warm up torch
            rate = index_rate(index, docs()[64 : args.minilm_sample], label="minilm: ")
            print(f"minilm  indexing: {rate:.0f} assets/s ({args.minilm_sample} assets; {load()})")
            index.close()
        for size in sizes:
            index = SearchIndex(
                Path(tmp) / f"{args.model}-{size}",
                model=args.model,
                model_cache=Path(tmp).parent / "aiodkg-bench-models",
                embedding_backend=args.backend,
            )
            index.warm_up()
            if len(index) == size:
                print(f"{args.model:7s} index of {size} reused from {tmp}", flush=True)
            else:
                index.clear()
                started = time.perf_counter()
                rate = index_rate(index, docs()[:size], label=f"{args.model} {size}: ")
                print(
                    f"{args.model:7s} indexing: {rate:.0f} assets/s ({size} assets, "
                    f"{time.perf_counter() - started:.0f} s; {load()})",
                    flush=True,
                )
            made.clear()  # (made again for a further size if needed)
            gc.collect()
            assert index.dense is not None
            print(f"faiss {'HNSW' if index.dense.is_hnsw else 'flat'}", flush=True)
            for q in qs[:10]:
                index.search(q)  # warm caches of the first queries' paths
            p50, p99 = latency(index, qs, embed=True)
            print(
                f"{args.model:7s} query at {size}: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
                f"({len(qs)} hybrid queries, 1/3 filtered, embedding included; {load()})",
                flush=True,
            )
            p50, p99 = latency(index, qs, embed=False)
            print(
                f"{args.model:7s} ranking at {size}: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
                f"(the same queries, their vectors cached: fusion, BM25, faiss; {load()})",
                flush=True,
            )
            index.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
