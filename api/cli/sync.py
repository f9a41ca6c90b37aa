"""``aiod-kg sync``: one push run from this node to its central (kg/sync), then exit.

Exit status 0 when the central holds every shared asset, 1 when some asset was refused or
the central stayed down (nothing is lost: the next run pushes what is still different), 2
when this aiod-kg is not a node (AIOD_KG_CENTRAL_URL, AIOD_KG_CENTRAL_TOKEN,
AIOD_KG_NODE_PLATFORM).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import TYPE_CHECKING, Any

from api.cli.options import add_store_options, settings_from

if TYPE_CHECKING:
    from kg.catalog import Catalog
    from kg.sync.schedule import SyncScheduler


def add_sync_parser(sub: Any) -> None:
    sync = sub.add_parser(
        "sync",
        help="push this node's shared assets to its central (one run)",
        description="Make the central (AIOD_KG_CENTRAL_URL) hold exactly this node's shared "
        "assets: published, created here, not local-only. Idempotent and resumable.",
    )
    sync.add_argument("--json", action="store_true", help="print the report as JSON")
    add_store_options(sync)
    sync.set_defaults(func=cmd_sync)


def cmd_sync(args: argparse.Namespace) -> int:
    from kg.catalog import Catalog
    from kg.sync import Pusher

    settings = settings_from(args)
    catalog = Catalog(settings)
    try:
        try:
            pusher = Pusher(catalog)
        except ValueError as exc:
            print(f"aiod-kg sync: {exc}", file=sys.stderr)
            return 2
        try:
            report = pusher.run()
        finally:
            pusher.close()
    finally:
        catalog.close()
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(
            f"sync: {report.created} created, {report.updated} updated, {report.deleted} deleted,"
            f" {report.unchanged} unchanged, {len(report.errors)} errors in {report.seconds:.1f} s"
            + (f"; stopped: {report.stopped}" if report.stopped else "")
        )
    return 1 if report.errors or report.stopped else 0


def start_sync_scheduler(catalog: Catalog, every: str) -> SyncScheduler:
    """``serve --sync-every``: push now and then every ``every`` (e.g. ``15m``); ValueError
    when this aiod-kg is not a node or the interval is not one."""
    from kg.harvest import parse_interval
    from kg.sync import Pusher
    from kg.sync.schedule import SyncScheduler

    interval = parse_interval(every)
    logging.getLogger("aiod_kg.sync").setLevel(logging.INFO)
    scheduler = SyncScheduler(Pusher(catalog), interval)
    scheduler.start()
    return scheduler
