"""Which connectors exist and how settings configure them."""

from __future__ import annotations

from kg.settings import Settings
from mappings.aiod import AiodConnector
from mappings.base import BaseConnector
from mappings.dcat import DcatConnector
from mappings.huggingface import HuggingFaceConnector
from mappings.openml import OpenMLConnector
from mappings.zenodo import ZenodoConnector

NAMES = ("openml", "huggingface", "zenodo", "dcat", "aiod")


def build_connector(name: str, settings: Settings, base_url: str | None = None) -> BaseConnector:
    """The connector ``name`` on its configured upstream (``base_url`` overrides it).

    For Hugging Face, ``base_url`` points both the Hub API and the dataset viewer at one
    host (a mirror or the replay of ``api.demo.replay``).
    """
    size = settings.harvest_page_size
    if name == "openml":
        return OpenMLConnector(base_url or settings.openml_url, size)
    if name == "huggingface":
        return HuggingFaceConnector(
            base_url or settings.huggingface_url, base_url or settings.huggingface_viewer_url, size
        )
    if name == "zenodo":
        return ZenodoConnector(base_url or settings.zenodo_url, settings.zenodo_window_hours)
    if name == "dcat":
        url = base_url or settings.dcat_url
        if not url:
            raise ValueError(
                "the dcat connector needs a catalogue URL (--base-url or AIOD_KG_DCAT_URL)"
            )
        return DcatConnector(url, settings.dcat_platform, settings.base)
    if name == "aiod":
        url = base_url or settings.aiod_url
        if not url:
            raise ValueError(
                "the aiod connector needs an AIoD REST API (--base-url or AIOD_KG_AIOD_URL)"
            )
        return AiodConnector(url, settings.aiod_platform, size, own_platform=settings.node_platform)
    raise ValueError(f"unknown connector {name!r} (one of {', '.join(NAMES)})")


def configured_connectors(settings: Settings) -> list[BaseConnector]:
    """The connectors ``serve --harvest-every`` runs: ``harvest_sources`` (+ dcat, aiod if set)."""
    names = [n.strip() for n in settings.harvest_sources.split(",") if n.strip()]
    if settings.dcat_url and "dcat" not in names:
        names.append("dcat")
    if settings.aiod_url and "aiod" not in names:
        names.append("aiod")
    return [build_connector(name, settings) for name in names]
