"""``aiod-kg search`` and ``aiod-kg reindex``: the search index from the command line."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from api.cli.options import add_remote_options, add_store_options, settings_from


def cmd_search(args: argparse.Namespace) -> int:
    if getattr(args, "server", None):  # a remote catalog (api/cli/client.py)
        from api.cli.client import remote_search

        return remote_search(args)
    from kg.catalog import Catalog
    from kg.model.fields import ASSET_TYPES
    from kg.search.index import SearchQuery, open_index
    from kg.search.text import name_of

    for name in args.type or []:
        if name not in ASSET_TYPES:
            print(
                f"aiod-kg search: unknown type {name!r} ({', '.join(ASSET_TYPES)})", file=sys.stderr
            )
            return 2
    settings = settings_from(args, search_model=getattr(args, "model", None))
    catalog = Catalog(settings)
    index = open_index(settings)
    try:
        index.bind(catalog)  # reconcile with the store (a missing index is built)
        indexed, deleted = index.reconcile()
        if indexed or deleted:
            print(
                f"(search index brought up to date: {indexed} indexed, {deleted} removed)",
                file=sys.stderr,
            )
        query = SearchQuery(
            args.query,
            types=args.type or (),
            platforms=args.platform or (),
            limit=args.limit,
            mode=args.mode,
        )
        results = index.search(query)
        rows = []
        for hit in results.hits:
            data = catalog.get(ASSET_TYPES[hit.type], hit.identifier)
            rows.append(
                {
                    "identifier": hit.identifier,
                    "type": hit.type,
                    "score": hit.score,
                    "name": name_of(data),
                }
            )
        if args.json:
            print(json.dumps({"total_hits": results.total, "items": rows}, indent=2))
        else:
            for row in rows:
                print(f"{row['score']:7.3f}  {row['type']:<14} {row['identifier']}  {row['name']}")
            print(f"({len(rows)} of {results.total} hits)", file=sys.stderr)
    finally:
        index.close()
        catalog.close()
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    from kg.catalog import Catalog
    from kg.search.index import open_index

    settings = settings_from(args, search_model=getattr(args, "model", None))
    catalog = Catalog(settings)
    index = open_index(settings)
    started = time.perf_counter()
    try:
        index.bind(catalog)

        def progress(n: int) -> None:
            print(f"\r{n} assets indexed", end="", file=sys.stderr, flush=True)

        count = index.rebuild(progress)
        print(file=sys.stderr)
    finally:
        index.close()
        catalog.close()
    seconds = time.perf_counter() - started
    print(f"indexed {count} assets in {seconds:.1f} s (model {settings.search_model})")
    return 0


def register(sub: Any) -> None:
    search = sub.add_parser(
        "search",
        help="search the catalog (hybrid: BM25 + semantic)",
        description="Search the local store's index, or a running server (--server).",
    )
    search.add_argument("query")
    search.add_argument("--type", action="append", help="asset type (repeatable)")
    search.add_argument("--platform", action="append", help="platform (repeatable)")
    search.add_argument("--limit", type=int, default=10)
    search.add_argument("--mode", choices=("hybrid", "lexical", "dense"), default="hybrid")
    search.add_argument("--json", action="store_true", help="print JSON")
    add_store_options(search)
    add_remote_options(search)
    search.set_defaults(func=cmd_search)

    reindex = sub.add_parser("reindex", help="rebuild the search index from the store")
    add_store_options(reindex)
    reindex.add_argument(
        "--model",
        choices=("minilm", "static", "fast"),
        help="document vectors (AIOD_KG_SEARCH_MODEL)",
    )
    reindex.set_defaults(func=cmd_reindex)
