"""``aiod-kg backup DIR`` and ``aiod-kg restore DIR`` (kg/backup.py).

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

from api.cli.options import add_store_options, settings_from


def cmd_backup(args: argparse.Namespace) -> int:
    from kg.backup import BackupError, backup
    from kg.catalog import Catalog

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
            catalog = Catalog(settings_from(args, search_enabled=False))
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
    from kg.backup import BackupError, restore
    from kg.store.base_url import remember_base_url

    # the store must be empty: nothing is recorded before the copy; then the restored store
    # remembers the base URL its IRIs were minted on (the backup's)
    settings = settings_from(args, remember=False, search_enabled=False)
    try:
        manifest = restore(Path(args.directory), settings)
    except BackupError as exc:
        print(f"aiod-kg restore: {exc.detail}", file=sys.stderr)
        return 1
    remember_base_url(settings, str(manifest.get("base_url") or settings.base))
    print(
        f"restored the backup of {manifest.get('created')} "
        f"({sum(manifest.get('counts', {}).values())} assets)"
    )
    return 0


def register(sub: Any) -> None:
    back = sub.add_parser("backup", help="consistent online backup of the store into DIR")
    back.add_argument("directory")
    add_store_options(back)
    back.add_argument("--server", help="ask this running server (admin key) to take it")
    back.set_defaults(func=cmd_backup)
    rest = sub.add_parser("restore", help="restore a backup DIR into an empty store")
    rest.add_argument("directory")
    add_store_options(rest)
    rest.set_defaults(func=cmd_restore)
