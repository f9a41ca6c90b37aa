"""The base URL a store's IRIs were minted on, remembered beside its catalogue index.

Asset IRIs (``{base_url}/{type}/{identifier}``) are also the names of their graphs, so they can
never change: the first base URL a store is used with is written to ``base_url`` beside
``catalog.sqlite`` and wins afterwards. A different configured (``AIOD_KG_BASE_URL``) or
derived (the ``serve`` address) one only logs a warning.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from kg.settings import Settings
from kg.store.backends import index_path

LOG = logging.getLogger("aiod_kg.store")
FILE_NAME = "base_url"


def base_url_file(settings: Settings) -> Path:
    return index_path(settings).parent / FILE_NAME


def remembered_base_url(settings: Settings) -> str | None:
    """The base URL recorded for this store, if any (creates nothing)."""
    folder = Path(settings.data_dir) if _remote(settings) else settings.store_path
    try:
        text = (folder / FILE_NAME).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text.rstrip("/") or None


def remember_base_url(settings: Settings, base_url: str) -> str:
    """Record ``base_url`` unless one is recorded already; returns the recorded one (the first
    writer wins when two processes start together)."""
    path = base_url_file(settings)
    try:
        with open(path, "x", encoding="utf-8") as out:
            out.write(base_url.rstrip("/") + "\n")
            out.flush()
            os.fsync(out.fileno())
    except FileExistsError:
        return remembered_base_url(settings) or base_url.rstrip("/")
    return base_url.rstrip("/")


def settle_base_url(
    settings: Settings, derived: str | None = None, *, remember: bool = True
) -> Settings:
    """``settings`` with the base URL its store's IRIs use.

    Wanted: ``AIOD_KG_BASE_URL`` when set, else ``derived`` (e.g. ``http://host:port`` of
    ``aiod-kg serve``), else the default. The store's remembered one wins over it (with a
    warning when they differ); a store without one remembers the wanted one (``remember``).
    """
    explicit = "base_url" in settings.model_fields_set
    wanted = settings.base if explicit or not derived else derived.rstrip("/")
    stored = remembered_base_url(settings)
    if stored is None and remember:
        stored = remember_base_url(settings, wanted)
    if stored is None:
        chosen = wanted
    else:
        chosen = stored
        if stored != wanted and (explicit or derived):
            LOG.warning(
                "this store's IRIs were minted on %s (remembered in %s); keeping it instead "
                "of %s: IRIs never change. Serve it at that address, or set "
                "AIOD_KG_BASE_URL=%s to silence this.",
                stored,
                base_url_file(settings),
                wanted,
                stored,
            )
    if chosen == settings.base:
        return settings
    return settings.model_copy(update={"base_url": chosen})


def _remote(settings: Settings) -> bool:
    from kg.store.remote import is_remote

    return is_remote(settings.store)
