"""``aiod-kg files verify`` (kg/files/verify.py on the local store) and ``aiod-kg upload`` /
``aiod-kg download`` (a running server, through the client ``aiod_kg_client``, with a progress
bar on stderr). The token comes from ``--token`` or ``AIOD_KG_TOKEN``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from api.cli.options import add_remote_options, add_store_options, client_for, settings_from


def register(sub: Any) -> None:
    files = sub.add_parser("files", help="check the stored files of the local catalog")
    actions = files.add_subparsers(dest="files_command", required=True)
    verify = actions.add_parser(
        "verify",
        help="re-hash every stored object; report corrupt, missing and orphaned files",
        description="Re-check every stored object against the assets' distributions. "
        "Exit status 1 when an object is corrupt or a referenced one is missing.",
    )
    verify.add_argument("--quick", action="store_true", help="do not re-hash the bytes")
    verify.add_argument(
        "--delete-orphans", action="store_true", help="delete objects nothing refers to"
    )
    verify.add_argument(
        "--clean-temp",
        type=float,
        metavar="HOURS",
        help="remove temporary files of uploads older than HOURS (crashed uploads)",
    )
    add_store_options(verify)
    verify.set_defaults(func=cmd_verify)

    up = sub.add_parser("upload", help="upload a file to an asset of a running server")
    up.add_argument("type", help="asset type, e.g. datasets")
    up.add_argument("identifier")
    up.add_argument("path")
    up.add_argument("--name", help="the file's name on the server (default: the path's)")
    up.add_argument("--media-type", help="its media type (default: guessed from the name)")
    add_remote_options(up)
    up.set_defaults(func=cmd_upload)

    down = sub.add_parser("download", help="download a stored file of an asset")
    down.add_argument("type")
    down.add_argument("identifier")
    down.add_argument("name")
    down.add_argument("-o", "--output", default=".", help="file or directory (default: .)")
    add_remote_options(down)
    down.set_defaults(func=cmd_download)


class Bar:
    """A one-line progress bar on stderr (redrawn at most ten times a second)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.last = 0.0
        self.started = time.monotonic()

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self.last < 0.1 and done != total:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-6) / 1e6
        if total:
            filled = int(30 * done / total)
            bar = "#" * filled + "-" * (30 - filled)
            text = f"{self.label} [{bar}] {100 * done / total:5.1f}% {rate:7.1f} MB/s"
        else:
            text = f"{self.label} {done / 1e6:10.1f} MB {rate:7.1f} MB/s"
        sys.stderr.write("\r" + text)
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def cmd_verify(args: argparse.Namespace) -> int:
    from kg.catalog import Catalog
    from kg.files.service import Files
    from kg.files.verify import verify

    settings = settings_from(args, search_enabled=False)
    catalog = Catalog(settings)
    files = Files(settings)
    try:
        report = verify(
            catalog,
            files,
            rehash=not args.quick,
            delete_orphans=args.delete_orphans,
            clean_temp_hours=args.clean_temp,
        )
    finally:
        files.close()
        catalog.close()
    print(json.dumps({"store": files.store.describe(), **report.as_dict()}, indent=1))
    return 0 if report.ok else 1


def _server(args: argparse.Namespace) -> None:
    if not args.server:
        args.server = "http://127.0.0.1:8000"


def cmd_upload(args: argparse.Namespace) -> int:
    from aiod_kg_client import ClientError

    _server(args)
    with client_for(args) as client:
        try:
            result = client.upload(
                args.type,
                args.identifier,
                args.path,
                name=args.name,
                media_type=args.media_type,
                progress=Bar("upload"),
            )
        except (ClientError, OSError) as exc:
            print(f"aiod-kg upload: {getattr(exc, 'detail', None) or exc}", file=sys.stderr)
            return 1
    print(json.dumps(result, indent=1))
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from aiod_kg_client import ClientError

    _server(args)
    with client_for(args) as client:
        try:
            path = client.download(
                args.type, args.identifier, args.name, args.output, progress=Bar("download")
            )
        except (ClientError, OSError) as exc:
            print(f"aiod-kg download: {getattr(exc, 'detail', None) or exc}", file=sys.stderr)
            return 1
    print(path)
    return 0
