"""Stored files in backups (``kg/backup.py`` calls these): a local file store's objects are
hard-linked (copied across file systems) into ``<backup>/files/objects``; restore copies them
back. An S3 bucket is backed up with the object store's own tools (versioning, replication)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from kg.files.store import files_location
from kg.settings import Settings


def backup_files(settings: Settings, destination: Path) -> int | str:
    """Objects copied, or why none were (an S3 back end)."""
    location = files_location(settings)
    if location.startswith("s3://"):
        return "s3: back up the bucket with its own tools"
    objects = Path(location) / "objects"
    count = 0
    for path in sorted(objects.glob("*/*/*")) if objects.exists() else []:
        target = destination / "files" / "objects" / path.relative_to(objects)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)
        count += 1
    return count


def restore_files(source: Path, settings: Settings) -> int:
    saved = source / "files" / "objects"
    location = files_location(settings)
    if not saved.exists() or location.startswith("s3://"):
        return 0
    target = Path(location) / "objects"
    shutil.copytree(saved, target, dirs_exist_ok=True)
    return sum(1 for _ in saved.glob("*/*/*"))
