"""``POST /admin/backup``: a consistent backup taken by the running server (admin only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import AdminDep, CatalogDep
from kg.store.backup import backup


class BackupRequest(BaseModel):
    directory: str = Field(description="An absolute, empty or missing directory on the server.")


def backup_router() -> APIRouter:
    router = APIRouter(tags=["admin"])

    @router.post("/admin/backup", operation_id="admin_backup", summary="Back up the catalogue")
    def take_backup(body: BackupRequest, catalog: CatalogDep, _: AdminDep) -> dict[str, Any]:
        return backup(catalog, Path(body.directory))

    return router
