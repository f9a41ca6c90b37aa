"""Search quality: nDCG@10 and recall@10 of lexical-only, dense-only and hybrid search.

    python bench/search_quality.py --corpus tests/data/search-eval/corpus.jsonl \
        --queries tests/data/search-eval/dev_queries.jsonl [--model minilm|static] \
        [--backend onnx-int8|onnx|torch] [--max-tokens 128]

Without options it measures the server's default search configuration (the Settings defaults).

The corpus (JSON lines: id, name, description, tags) is loaded as datasets into a fresh
temporary catalog with ``Catalog.save_many`` (what POST /datasets does), the search index
follows the catalog's change events as in the server, and every query goes through
``GET /search?q=...&type=datasets&mode=...`` of the real application. The last line printed is
``ndcg@10=<hybrid>``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import describe

PLATFORM = "eval"
MODES = ("lexical", "dense", "semantic", "hybrid")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def record(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "platform": PLATFORM,
        "platform_resource_identifier": str(item["id"]),
        "name": str(item.get("name") or item["id"])[:256],
        "description": {"plain": str(item.get("description") or "")},
        "keyword": [str(t) for t in item.get("tags") or []],
        "aiod_entry": {"status": "published"},
    }


def ndcg_at(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if d in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal if ideal else 0.0


def recall_at(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    return len(set(ranked[:k]) & relevant) / len(relevant) if relevant else 0.0


def measure(
    client: Any, queries: list[dict[str, Any]], by_identifier: dict[str, str], per_query: bool
) -> dict[str, tuple[float, float]]:
    """nDCG@10 and recall@10 of every mode, each query through GET /search."""
    figures: dict[str, tuple[float, float]] = {}
    for mode in MODES:
        ndcgs, recalls = [], []
        for query in queries:
            response = client.get(
                "/search",
                params={
                    "q": query["query"],
                    "type": "datasets",
                    "limit": 10,
                    "mode": mode,
                    "facets": "false",
                },
            )
            response.raise_for_status()
            ranked = [
                by_identifier.get(item["identifier"], "") for item in response.json()["items"]
            ]
            relevant = {str(r) for r in query["relevant"]}
            ndcgs.append(ndcg_at(ranked, relevant))
            recalls.append(recall_at(ranked, relevant))
        figures[mode] = (sum(ndcgs) / len(ndcgs), sum(recalls) / len(recalls))
        if per_query:
            print(f"  {mode:8s} per query: " + " ".join(f"{x:.2f}" for x in ndcgs))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", required=True, type=Path)
    parser.add_argument("--queries", required=True, type=Path)
    parser.add_argument(
        "--model",
        choices=("minilm", "static", "fast"),
        default=None,
        help="document vectors (AIOD_KG_SEARCH_MODEL; default: the server's default)",
    )
    parser.add_argument(
        "--backend",
        choices=("onnx-int8", "onnx", "torch"),
        default=None,
        help="how MiniLM runs (AIOD_KG_EMBEDDING_BACKEND; default: the server's default)",
    )
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=None,
        help="tokens of a text MiniLM reads (kg.search.embed.MAX_TOKENS; default: as shipped)",
    )
    parser.add_argument("--per-query", action="store_true", help="print every query's nDCG")
    args = parser.parse_args(argv)

    from fastapi.testclient import TestClient

    from api.app import create_app
    from kg.catalog import Catalog
    from kg.model.fields import ASSET_TYPES
    from kg.search import embed
    from kg.settings import Settings

    if args.max_tokens:
        embed.MAX_TOKENS = args.max_tokens
    backend = args.backend or Settings.model_fields["embedding_backend"].default
    args.model = args.model or Settings.model_fields["search_model"].default
    packages = ("faiss-cpu", "tantivy", "sentence-transformers", "torch", "onnxruntime")
    print(describe((*packages, "model2vec")))
    print(f"embedding: {embed.embedder_id(embed.MINILM, backend)}")
    corpus = read_jsonl(args.corpus)
    queries = read_jsonl(args.queries)
    with tempfile.TemporaryDirectory(prefix="aiodkg-searchq-") as tmp:
        settings = Settings(
            store=str(Path(tmp) / "store"),
            search_model=args.model,
            embedding_backend=backend,
            search_warmup=False,
        )
        catalog = Catalog(settings)
        try:
            with TestClient(create_app(settings, catalog)) as client:
                index = client.app.state.search  # type: ignore[attr-defined]
                index.warm_up()
                index.background_upgrades = False  # fast mode: measure the static phase first
                started = time.perf_counter()
                results = catalog.save_many(
                    ASSET_TYPES["datasets"], [record(i) for i in corpus], mode="upsert"
                )
                failed = [r for r in results if not r.ok]
                if failed:
                    print(f"{len(failed)} records failed: {failed[0]}", file=sys.stderr)
                index.flush(timeout=None)
                print(
                    f"corpus: {len(corpus)} records loaded and indexed in "
                    f"{time.perf_counter() - started:.1f} s (model {args.model}); "
                    f"queries: {len(queries)} from {args.queries.name}"
                )
                by_identifier = {
                    str(r.identifier): str(corpus[r.index]["id"]) for r in results if r.ok
                }
                figures = measure(client, queries, by_identifier, args.per_query)
                if args.model == "fast":
                    for mode in MODES:
                        print(
                            f"before the background MiniLM pass: {mode:8s} "
                            f"ndcg@10={figures[mode][0]:.4f} recall@10={figures[mode][1]:.4f}"
                        )
                    started = time.perf_counter()
                    index.background_upgrades = True
                    index.wait_upgraded()
                    print(f"background MiniLM pass: {time.perf_counter() - started:.1f} s")
                    figures = measure(client, queries, by_identifier, args.per_query)
        finally:
            catalog.close()
    names = {
        "lexical": "lexical-only",
        "dense": "dense-only",
        "semantic": "dense+labels, no BM25 (ablation)",
        "hybrid": "hybrid",
    }
    for mode in MODES:
        ndcg, recall = figures[mode]
        print(f"{names[mode]:13s} ndcg@10={ndcg:.4f} recall@10={recall:.4f}")
    best_single = max(figures["lexical"][0], figures["dense"][0])
    print(f"hybrid - best single method: {figures['hybrid'][0] - best_single:+.4f}")
    print(f"ndcg@10={figures['hybrid'][0]:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
