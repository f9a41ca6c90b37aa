"""The demo catalog of ``aiod-kg serve --demo``: real connectors harvest recorded payloads.

The replay servers (``api.demo.replay``) answer on loopback with the upstream payloads shipped in
this package: ``recorded/`` (OpenML, Hugging Face and Zenodo responses recorded by the AIoD
developers) and ``recorded_style/`` (hand-made in the exact upstream shapes, describing real
public assets: OpenML-CC18 and other well-known OpenML datasets, popular Hugging Face models and
datasets, and a DCAT-AP catalogue of the TensorFlow Datasets cards); each folder's SOURCES.md
says where every file comes from. The OpenML, Hugging Face, Zenodo and DCAT connectors of
``mappings/`` harvest them exactly as they harvest the real platforms, so the demo shows what a
harvest produces (several hundred assets), not placeholders.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.demo.replay import RECORDED, ReplayData, ReplayServer

if TYPE_CHECKING:
    from kg.catalog import Catalog
    from kg.harvest import HarvestReport
    from kg.settings import Settings

RECORDED_STYLE = Path(str(resources.files("api.demo") / "recorded_style"))
DCAT_PATH = "/dcat/tensorflow_datasets.ttl"  # where the replay serves the DCAT-AP catalogue
DCAT_PLATFORM = "tensorflow_datasets"
# the recorded Zenodo OAI-PMH pages have datestamps between these two instants
ZENODO_SINCE = datetime(2023, 5, 1, tzinfo=UTC)
ZENODO_UNTIL = datetime(2024, 3, 1, tzinfo=UTC)


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def demo_data(recorded: Path = RECORDED, recorded_style: Path = RECORDED_STYLE) -> ReplayData:
    """The recorded payloads plus the recorded-style ones, as the replay serves them."""
    data = ReplayData.from_fixtures(recorded)
    openml = recorded_style / "openml"
    for summary in _load(openml / "data_list.json")["data"]["dataset"]:
        did = int(summary["did"])
        data.openml_datasets.setdefault(
            did, {"summary": summary, "detail": _load(openml / f"data_{did}.json"), "qualities": {}}
        )
    hf = recorded_style / "huggingface"
    known = {entry["id"] for entry in data.hf_datasets}
    for entry in _load(hf / "datasets.json"):
        if entry["id"] not in known:
            data.hf_datasets.append(entry)
            data.hf_parquet[entry["id"]] = None  # no dataset-viewer recording: answered 404
    data.hf_models.extend(_load(hf / "models.json"))
    catalogue = (recorded_style / "dcat" / "tensorflow_datasets.ttl").read_bytes()
    data.static[DCAT_PATH] = ("text/turtle", catalogue)
    return data


def demo_harvest(catalog: Catalog, data: ReplayData | None = None) -> list[HarvestReport]:
    """Run the OpenML, Hugging Face, Zenodo and DCAT connectors against the replay."""
    from kg.harvest import Harvester
    from mappings.dcat import DcatConnector
    from mappings.huggingface import HuggingFaceConnector
    from mappings.openml import OpenMLConnector
    from mappings.zenodo import ZenodoConnector

    reports = []
    with ReplayServer(data if data is not None else demo_data()) as replay:
        harvester = Harvester(catalog, progress=False)
        try:
            hours = (ZENODO_UNTIL - ZENODO_SINCE).total_seconds() / 3600
            connectors = [
                (OpenMLConnector(replay.openml_url), None),
                (HuggingFaceConnector(replay.huggingface_url, replay.huggingface_url), None),
                (ZenodoConnector(replay.zenodo_url, hours, now=ZENODO_UNTIL), ZENODO_SINCE),
            ]
            if DCAT_PATH in replay.data.static:  # the recorded-style DCAT-AP catalogue
                dcat = DcatConnector(replay.url + DCAT_PATH, platform=DCAT_PLATFORM)
                connectors.append((dcat, None))
            for connector, since in connectors:
                reports.append(harvester.run(connector, since=since))
        finally:
            harvester.close()
    return reports


def load_demo_catalog(catalog: Catalog) -> int:
    """Fill an empty catalog with the demo harvest (whose runs record the platforms of their
    assets, ``kg.platform_records``) and a platform record for AIoD itself; the number of
    assets created."""
    if catalog.counts():
        return 0
    loaded = 0
    for report in demo_harvest(catalog):
        loaded += report.total("created")
        print(
            f"demo: {report.connector}: {report.total('created')} assets"
            f" ({report.error_count} errors)",
            file=sys.stderr,
        )
    return loaded + add_platform_records(catalog)


def add_platform_records(catalog: Catalog) -> int:
    """A ``platforms`` record named ``aiod`` unless there is one; how many it created (the
    harvests recorded the platforms of the assets they brought)."""
    from kg.platform_records import add_platform_records as add

    return len(add(catalog, ["aiod"]))


def load_demo(settings: Settings) -> int:
    """``aiod-kg serve --demo``: open the store, fill it when empty, close it."""
    from kg.catalog import Catalog

    started = time.perf_counter()
    catalog = Catalog(settings)
    try:
        loaded = load_demo_catalog(catalog)
    finally:
        catalog.close()
    if loaded:
        seconds = time.perf_counter() - started
        print(f"demo: loaded {loaded} assets in {seconds:.1f} s", file=sys.stderr)
    return loaded
