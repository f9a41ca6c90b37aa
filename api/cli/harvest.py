"""``aiod-kg harvest`` and scheduled harvesting for ``aiod-kg serve --harvest-every`` (the demo
catalog's harvest is ``api.demo.catalog``)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import TYPE_CHECKING, Any

from api.cli.options import settings_from
from kg.settings import Settings

if TYPE_CHECKING:
    from kg.catalog import Catalog
    from kg.harvest import HarvestScheduler


def add_harvest_parser(sub: Any) -> None:
    from mappings.registry import NAMES

    harvest = sub.add_parser(
        "harvest",
        help="harvest a platform into the catalog",
        description="Harvest one platform. Without --since a run is incremental where the "
        "platform allows it (Hugging Face, Zenodo) and lists everything at least "
        "weekly; an interrupted run resumes where it stopped.",
    )
    harvest.add_argument("platform", choices=NAMES)
    harvest.add_argument("--base-url", help="upstream base URL (default: from settings)")
    harvest.add_argument("--since", help="only records changed since DATE (ISO 8601)")
    harvest.add_argument(
        "--full",
        action="store_true",
        help="list everything (and delete what upstream no longer lists)",
    )
    harvest.add_argument("--limit", type=int, help="stop after N upstream records")
    harvest.add_argument("--dry-run", action="store_true", help="map and validate, write nothing")
    harvest.add_argument("--json", action="store_true", help="print the report as JSON")
    harvest.add_argument("--store", help="store directory or URL (AIOD_KG_STORE)")
    harvest.add_argument(
        "--data-dir", metavar="DIR", help="state beside a remote store (AIOD_KG_DATA_DIR)"
    )
    harvest.set_defaults(func=cmd_harvest)


def cmd_harvest(args: argparse.Namespace) -> int:
    from kg.catalog import Catalog
    from kg.harvest import Harvester, Since, parse_since
    from mappings.registry import build_connector

    # the store's settings the one way every command builds them; --base-url here is the
    # upstream's, so IRIs keep the base URL the store remembers (kg/store/base_url.py)
    settings = settings_from(args)
    try:
        connector = build_connector(args.platform, settings, args.base_url)
        since: Since = parse_since(args.since) if args.since else (None if args.full else "auto")
    except ValueError as exc:
        print(f"aiod-kg harvest: {exc}", file=sys.stderr)
        return 2
    catalog = Catalog(settings)
    harvester = Harvester(catalog)
    try:
        report = harvester.run(connector, since=since, limit=args.limit, dry_run=args.dry_run)
    finally:
        harvester.close()
        catalog.close()
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(report.summary())
    return 1 if report.aborted else 0


# --------------------------------------------------------------------------- scheduling


def start_scheduler(catalog: Catalog, settings: Settings, every: str) -> HarvestScheduler:
    """Harvest every configured connector now and then every ``every`` (e.g. ``1h``)."""
    from kg.harvest import Harvester, HarvestScheduler, parse_interval
    from mappings.registry import configured_connectors

    logging.getLogger("aiod_kg.harvest").setLevel(logging.INFO)
    scheduler = HarvestScheduler(
        Harvester(catalog, progress=False),
        lambda: list(configured_connectors(settings)),
        parse_interval(every),
    )
    scheduler.start()
    return scheduler
