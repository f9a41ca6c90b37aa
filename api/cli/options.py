"""The options every sub-command shares, declared once, and the one way to turn parsed
arguments into ``Settings`` (``settings_from``).

Sub-command modules import this module (never ``api.cli.main``); ``main`` registers them.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from kg.settings import Settings

CLIENT_INSTALL_HINT = (
    "the aiod-kg client is not installed; install it with: pip install ./clients/python "
    "(make install does)"
)


def add_store_options(parser: argparse.ArgumentParser) -> None:
    """``--store``, ``--data-dir`` and ``--base-url``: where the catalog lives and the base of
    its IRIs (each overrides its AIOD_KG_* variable)."""
    group = parser.add_argument_group("store")
    group.add_argument("--store", metavar="PATH", help="store directory or URL (AIOD_KG_STORE)")
    group.add_argument(
        "--data-dir", metavar="DIR", help="state beside a remote store (AIOD_KG_DATA_DIR)"
    )
    group.add_argument(
        "--base-url",
        dest="iri_base_url",  # not base_url: harvest's --base-url is the upstream's
        metavar="URL",
        help="base of asset IRIs (AIOD_KG_BASE_URL; serve: default http://HOST:PORT); a store "
        "keeps the one it was first used with",
    )


def add_remote_options(parser: argparse.ArgumentParser) -> None:
    """``--server URL`` and ``--token``: run the command on a remote aiod-kg server instead
    of the local store (needs the client: ``pip install ./clients/python``)."""
    group = parser.add_argument_group("remote server")
    group.add_argument(
        "--server", metavar="URL", help="talk to this aiod-kg server instead of the local store"
    )
    group.add_argument("--token", help="bearer token for --server (default: $AIOD_KG_TOKEN)")


def settings_from(args: argparse.Namespace, *, remember: bool = True, **overrides: Any) -> Settings:
    """The settings of one command: AIOD_KG_* variables, overridden by the shared options
    (``--store``, ``--data-dir``, ``--base-url``), ``--host``/``--port`` of ``serve`` and the
    command's own ``overrides``. The base URL is settled against the store's remembered one
    (``kg.store.base_url``); ``remember=False`` records nothing (e.g. before a restore)."""
    from kg.store.base_url import settle_base_url

    values: dict[str, Any] = {}
    for option, field in (
        ("store", "store"),
        ("data_dir", "data_dir"),
        ("iri_base_url", "base_url"),
        ("host", "host"),
        ("port", "port"),
    ):
        value = getattr(args, option, None)
        if value:
            values[field] = value
    values.update({k: v for k, v in overrides.items() if v is not None})
    settings = Settings(**values)
    derived = serve_address(settings) if getattr(args, "command", None) == "serve" else None
    return settle_base_url(settings, derived, remember=remember)


def serve_address(settings: Settings) -> str:
    """``http://host:port`` of ``aiod-kg serve`` (a wildcard host answers on loopback too)."""
    host = settings.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def client_for(args: argparse.Namespace) -> Any:
    """An ``aiod_kg_client.Client`` for ``--server`` (token: ``--token`` or AIOD_KG_TOKEN);
    SystemExit with the install hint when the client distribution is missing."""
    try:
        from aiod_kg_client import Client
    except ImportError:
        raise SystemExit(f"aiod-kg: {CLIENT_INSTALL_HINT}") from None
    token = getattr(args, "token", None) or os.environ.get("AIOD_KG_TOKEN") or None
    return Client(args.server, token)
