"""``aiod-kg files verify``: every stored object re-hashed and checked against the metadata.

Referenced objects are the sha256 checksums of the distributions whose ``content_url`` is a
file URL of this catalog (any asset, public or not). The report lists objects whose bytes no
longer hash to their name (corrupt), referenced objects that are not stored (missing), stored
objects nothing refers to (orphans; ``--delete-orphans`` removes them) and temporary files of
interrupted uploads (``--clean-temp HOURS`` removes those older than that: an upload in
progress is never that old).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from kg.catalog import Catalog
from kg.errors import CatalogError
from kg.files import distributions as dist
from kg.files.service import Files
from kg.model.fields import ASSET_TYPES


@dataclass
class Report:
    objects: int = 0
    bytes: int = 0
    references: int = 0
    corrupt: list[str] = field(default_factory=list)
    missing: list[dict[str, str]] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    stale_uploads: int = 0
    deleted_orphans: int = 0
    cleaned_uploads: int = 0

    @property
    def ok(self) -> bool:
        return not (self.corrupt or self.missing)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "objects": self.objects,
            "bytes": self.bytes,
            "references": self.references,
            "corrupt": self.corrupt,
            "missing": self.missing,
            "orphans": self.orphans,
            "stale_uploads": self.stale_uploads,
            "deleted_orphans": self.deleted_orphans,
            "cleaned_uploads": self.cleaned_uploads,
        }


def referenced(catalog: Catalog) -> dict[str, list[dict[str, str]]]:
    """sha256 -> the (type, identifier, name) of every distribution stored here."""
    out: dict[str, list[dict[str, str]]] = {}
    for identifier, collection, _modified, _status in list(catalog.index.modified()):
        asset = ASSET_TYPES.get(collection)
        if asset is None:
            continue
        try:
            data = catalog.get(asset, identifier)
        except CatalogError:  # gone meanwhile
            continue
        prefix = dist.files_prefix(catalog.base_url, asset, identifier)
        for name, sha in dist.stored_files(data, prefix):
            where = {"type": collection, "identifier": identifier, "name": name, "sha256": sha}
            out.setdefault(sha, []).append(where)
    return out


def clean_temporary(files: Files, older_than_hours: float) -> tuple[int, int]:
    """Remove leftovers of uploads older than ``older_than_hours``: (removed, left)."""
    removed = left = 0
    for name, age in files.store.temporary():
        if age >= older_than_hours * 3600:
            files.store.remove_temporary(name)
            removed += 1
        else:
            left += 1
    return removed, left


def verify(
    catalog: Catalog,
    files: Files,
    rehash: bool = True,
    delete_orphans: bool = False,
    clean_temp_hours: float | None = None,
) -> Report:
    report = Report()
    wanted = referenced(catalog)
    report.references = sum(len(v) for v in wanted.values())
    stored = set()
    for stat in files.store.iterate():
        report.objects += 1
        report.bytes += stat.size
        stored.add(stat.sha256)
        if rehash:
            digest = hashlib.sha256()
            for chunk in files.store.open_range(stat.sha256):
                digest.update(chunk)
            if digest.hexdigest() != stat.sha256:
                report.corrupt.append(stat.sha256)
        if stat.sha256 not in wanted:
            report.orphans.append(stat.sha256)
    for sha, places in sorted(wanted.items()):
        if sha not in stored:
            report.missing.extend(places)
    if delete_orphans:
        with catalog.write_lock:
            for sha in report.orphans:
                if files.ledger.references(sha) == 0 and files.store.delete(sha):
                    report.deleted_orphans += 1
    if clean_temp_hours is not None:
        report.cleaned_uploads, report.stale_uploads = clean_temporary(files, clean_temp_hours)
    else:
        report.stale_uploads = len(files.store.temporary())
    return report
