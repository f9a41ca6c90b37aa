"""``aiod-kg api-key create|list|revoke``: API keys for bots and connectors, from the shell.

The key is printed once; only its hash is stored (beside the catalogue index).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from api.cli.options import add_store_options, settings_from
from kg.access.rules import AccessControl
from kg.errors import CatalogError
from kg.store.index import CatalogIndex


def _access(args: argparse.Namespace) -> AccessControl:
    return AccessControl(CatalogIndex.from_settings(settings_from(args)))


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
        print(f"aiod-kg api-key: {exc.detail}", file=sys.stderr)
        return 1
    finally:
        access.index.close()
    return 0


def register(sub: Any) -> None:
    parser = sub.add_parser("api-key", help="create, list or revoke API keys")
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key (printed once)")
    create.add_argument("--name", required=True, help="who or what uses it")
    create.add_argument(
        "--role",
        action="append",
        help="a role (repeatable): platform_<name>, edit_aiod_resources, ...",
    )
    add_store_options(create)
    listing = actions.add_parser("list", help="list keys (never the keys themselves)")
    add_store_options(listing)
    revoke = actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("id")
    add_store_options(revoke)
    parser.set_defaults(func=cmd_api_key)
