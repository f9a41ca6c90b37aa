"""The ``platforms`` records that name the platforms assets come from.

The AIoD REST API keeps a platform table that its set-up fills (``aiod``, ``openml``,
``huggingface``, ...) and that every asset's ``platform`` names, so ``GET /platforms`` lists
them. Here a platform record is made where a harvest (``kg.harvest.engine``) or the demo catalog
first brings assets of a platform that has none; records made by hand are left as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from kg.model.fields import ASSET_TYPES

if TYPE_CHECKING:
    from kg.catalog import Catalog

PLATFORMS = ASSET_TYPES["platforms"]
#: platform records read per page when looking for the names already recorded
PAGE = 1000


def recorded_platforms(catalog: Catalog) -> set[str]:
    """The names of the platform records of ``catalog``."""
    names: set[str] = set()
    offset = 0
    while True:
        rows = catalog.list(PLATFORMS, offset, PAGE)
        names.update(str(row.get("name")) for row in rows)
        if len(rows) < PAGE:
            return names
        offset += PAGE


def add_platform_records(catalog: Catalog, names: Iterable[str]) -> list[str]:
    """A platform record for each of ``names`` that has none yet (blank names are skipped);
    the names it recorded. A name that is not a valid platform name is reported by the
    catalog's validation and skipped, like any record that fails."""
    wanted = {name for name in names if name} - recorded_platforms(catalog)
    if not wanted:
        return []
    ordered = sorted(wanted)
    results = catalog.save_many(PLATFORMS, [{"name": name} for name in ordered])
    return [name for name, result in zip(ordered, results, strict=True) if result.ok]
