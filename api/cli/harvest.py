"""``aiod-kg harvest``, scheduled harvesting for ``aiod-kg serve --harvest-every`` and the demo
catalog (the real connectors against a local replay of ../shared/fixtures)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kg.settings import Settings

if TYPE_CHECKING:
    from kg.catalog import Catalog
    from kg.harvest import HarvestReport, HarvestScheduler

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"
# the recorded Zenodo OAI-PMH pages have datestamps between these two instants
DEMO_ZENODO_SINCE = datetime(2023, 5, 1, tzinfo=UTC)
DEMO_ZENODO_UNTIL = datetime(2024, 3, 1, tzinfo=UTC)


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
    harvest.add_argument("--store", help="store directory (AIOD_KG_STORE)")
    harvest.set_defaults(func=cmd_harvest)


def cmd_harvest(args: argparse.Namespace) -> int:
    from kg.catalog import Catalog
    from kg.harvest import Harvester, Since, parse_since
    from mappings.registry import build_connector

    settings = Settings(**({"store": args.store} if args.store else {}))
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


# --------------------------------------------------------------------------- demo


def demo_harvest(catalog: Catalog, fixtures: Path = FIXTURES) -> list[HarvestReport]:
    """Run the OpenML, Hugging Face and Zenodo connectors against a replay of ``fixtures``."""
    from api.demo.replay import ReplayData, ReplayServer
    from kg.harvest import Harvester
    from mappings.huggingface import HuggingFaceConnector
    from mappings.openml import OpenMLConnector
    from mappings.zenodo import ZenodoConnector

    reports = []
    with ReplayServer(ReplayData.from_fixtures(fixtures)) as replay:
        harvester = Harvester(catalog, progress=False)
        try:
            hours = (DEMO_ZENODO_UNTIL - DEMO_ZENODO_SINCE).total_seconds() / 3600
            connectors = [
                (OpenMLConnector(replay.openml_url), None),
                (HuggingFaceConnector(replay.huggingface_url, replay.huggingface_url), None),
                (
                    ZenodoConnector(replay.zenodo_url, hours, now=DEMO_ZENODO_UNTIL),
                    DEMO_ZENODO_SINCE,
                ),
            ]
            for connector, since in connectors:
                reports.append(harvester.run(connector, since=since))
        finally:
            harvester.close()
    return reports


def load_demo_catalog(catalog: Catalog, examples: Path | None) -> int:
    """Fill an empty catalog: replayed upstream records, then the AIoD example resources."""
    if catalog.counts():
        return 0
    loaded = 0
    if FIXTURES.is_dir():
        for report in demo_harvest(catalog):
            loaded += report.total("created")
            print(
                f"demo: {report.connector}: {report.total('created')} assets"
                f" ({report.error_count} errors)"
            )
    else:
        print(f"demo: {FIXTURES} not found; no replayed upstream records", file=sys.stderr)
    if examples is not None:
        from kg.model.fields import ASSET_TYPES

        for name, asset in ASSET_TYPES.items():
            path = examples / f"{name}.json"
            if not path.exists():
                continue
            records = json.loads(path.read_text(encoding="utf-8"))
            for record in records:
                record.setdefault("aiod_entry", {})["status"] = "published"
            loaded += sum(1 for r in catalog.save_many(asset, records, mode="upsert") if r.ok)
    return loaded
