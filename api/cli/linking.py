"""``aiod-kg relink``: rebuild the link index (links across platforms, kg/linking) and the
metadata quality scores (kg/quality) from the store, and rewrite their derived graphs. The
moderators' decisions on proposed duplicates are kept."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from api.cli.options import add_store_options, settings_from


def cmd_relink(args: argparse.Namespace) -> int:
    from kg.catalog import Catalog
    from kg.derived import open_linker, relink

    settings = settings_from(args)
    catalog = Catalog(settings)
    try:
        started = time.perf_counter()
        indexed = relink(settings, catalog)
        linker = open_linker(settings, catalog, follow=False)
        try:
            proposed = len(linker.duplicates(limit=1_000_000))
        finally:
            linker.close()
    finally:
        catalog.close()
    summary = {
        "indexed": indexed,
        "proposed_duplicates": proposed,
        "seconds": round(time.perf_counter() - started, 2),
    }
    print(json.dumps(summary))
    return 0


def register(sub: Any) -> None:
    relink = sub.add_parser(
        "relink",
        help="rebuild the link index and quality scores from the store",
        description="Rebuild links across platforms, same-work groups, proposed duplicates and "
        "metadata quality from the store; rewrite their derived graphs.",
    )
    add_store_options(relink)
    relink.set_defaults(func=cmd_relink)
