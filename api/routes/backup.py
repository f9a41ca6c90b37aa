"""``POST /admin/backup``: a consistent backup taken by the running server (admin only).

The server writes only under its backup directory (``AIOD_KG_BACKUP_DIR``, by default
``backups`` beside the store): a relative ``directory`` is resolved against it, an absolute
one must lie inside it, and anything that leaves it (``..``, a symbolic link out) is refused
with 400 -- an admin key must not become a way to write anywhere on the server's disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import AdminDep, CatalogDep
from kg.backup import backup
from kg.errors import CatalogError


class BackupRequest(BaseModel):
    directory: str = Field(
        min_length=1,
        max_length=1000,
        description="A new or empty directory under the server's backup directory "
        "(AIOD_KG_BACKUP_DIR); relative paths are resolved against it.",
    )


def backup_destination(root: Path, directory: str) -> Path:
    """Where ``directory`` points under ``root``; CatalogError (400) if it leaves it."""
    if "\x00" in directory:
        raise CatalogError("The backup directory name holds a NUL character.")
    base = root.resolve()
    wanted = Path(directory)
    target = (wanted if wanted.is_absolute() else base / wanted).resolve()
    if target == base or not target.is_relative_to(base):
        raise CatalogError(
            f"Backups are written only inside the backup directory {base} "
            "(AIOD_KG_BACKUP_DIR): give a new subdirectory of it."
        )
    return target


def backup_router() -> APIRouter:
    router = APIRouter(tags=["admin"])

    @router.post("/admin/backup", operation_id="admin_backup", summary="Back up the catalogue")
    def take_backup(body: BackupRequest, catalog: CatalogDep, _: AdminDep) -> dict[str, Any]:
        root = catalog.settings.backup_path
        root.mkdir(parents=True, exist_ok=True)
        return backup(catalog, backup_destination(root, body.directory))

    return router
