"""``aiod-kg api-key create|list|revoke``: API keys for bots and connectors, from the shell.

The key is printed once; only its hash is stored (beside the catalogue index).
"""

from __future__ import annotations

import argparse
from typing import Any

from kg.access.rules import AccessControl
from kg.errors import CatalogError
from kg.settings import Settings
from kg.store.backends import index_path
from kg.store.index import CatalogIndex


def _access(args: argparse.Namespace) -> AccessControl:
    overrides: dict[str, Any] = {"store": args.store} if getattr(args, "store", None) else {}
    return AccessControl(CatalogIndex(index_path(Settings(**overrides))))


def cmd_api_key(args: argparse.Namespace) -> int:
    access = _access(args)
    try:
        if args.action == "create":
            key, secret = access.create_key(args.name, args.role or [], "cli")
            print(f"id:    {key.id}\nname:  {key.name}\nroles: {', '.join(key.roles) or '-'}")
            print(
                f"key:   {secret}\n(shown once: store it now; send it as "
                "'Authorization: Bearer <key>')"
            )
        elif args.action == "list":
            for key in access.api_keys():
                state = f"revoked {key.revoked_at}" if key.revoked_at else "active"
                print(
                    f"{key.id}\t{key.name}\t{','.join(key.roles) or '-'}\t{key.created_at}\t{state}"
                )
        else:
            key = access.revoke_key(args.id)
            print(f"revoked {key.id} ({key.name})")
    except CatalogError as exc:
        print(f"error: {exc.detail}")
        return 1
    finally:
        access.index.close()
    return 0


def add_api_key_parser(sub: Any) -> None:
    parser = sub.add_parser("api-key", help="create, list or revoke API keys")
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key (printed once)")
    create.add_argument("--name", required=True, help="who or what uses it")
    create.add_argument(
        "--role",
        action="append",
        help="a role (repeatable): platform_<name>, edit_aiod_resources, ...",
    )
    create.add_argument("--store")
    listing = actions.add_parser("list", help="list keys (never the keys themselves)")
    listing.add_argument("--store")
    revoke = actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("id")
    revoke.add_argument("--store")
    parser.set_defaults(func=cmd_api_key)
