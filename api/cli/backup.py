"""``aiod-kg backup DIR`` and ``aiod-kg restore DIR`` (kg/store/backup.py).

``backup`` opens the store itself when no server holds it; while a server runs on it, pass
``--server URL`` (and the admin key in AIOD_KG_ADMIN_KEY): the server takes the backup (into a
directory on its machine) between two writes, so the backup is consistent and the service stays
online.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from kg.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {"search_enabled": False}
    if getattr(args, "store", None):
        overrides["store"] = args.store
    return Settings(**overrides)


def cmd_backup(args: argparse.Namespace) -> int:
    from kg.catalog import Catalog
    from kg.store.backup import BackupError, backup

    target = Path(args.directory).resolve()
    if args.server:
        import httpx

        key = os.environ.get("AIOD_KG_ADMIN_KEY", "")
        answer = httpx.post(
            args.server.rstrip("/") + "/admin/backup",
            json={"directory": str(target)},
            headers={"Authorization": f"Bearer {key}"},
            timeout=3600,
        )
        if answer.status_code != 200:
            print(f"aiod-kg backup: {answer.status_code} {answer.text}", file=sys.stderr)
            return 1
        manifest = answer.json()
    else:
        try:
            catalog = Catalog(_settings(args))
        except OSError as exc:
            print(
                f"aiod-kg backup: cannot open the store ({exc}); if a server is running on "
                "it, use --server URL",
                file=sys.stderr,
            )
            return 1
        try:
            manifest = backup(catalog, target)
        except BackupError as exc:
            print(f"aiod-kg backup: {exc.detail}", file=sys.stderr)
            return 1
        finally:
            catalog.close()
    print(json.dumps(manifest, indent=1))
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from kg.store.backup import BackupError, restore

    try:
        manifest = restore(Path(args.directory), _settings(args))
    except BackupError as exc:
        print(f"aiod-kg restore: {exc.detail}", file=sys.stderr)
        return 1
    print(
        f"restored the backup of {manifest.get('created')} "
        f"({sum(manifest.get('counts', {}).values())} assets)"
    )
    return 0


def add_backup_parsers(sub: Any) -> None:
    back = sub.add_parser("backup", help="consistent online backup of the store into DIR")
    back.add_argument("directory")
    back.add_argument("--store")
    back.add_argument("--server", help="ask this running server (admin key) to take it")
    back.set_defaults(func=cmd_backup)
    rest = sub.add_parser("restore", help="restore a backup DIR into an empty store")
    rest.add_argument("directory")
    rest.add_argument("--store")
    rest.set_defaults(func=cmd_restore)
