"""``aiod-kg get`` and the ``--server URL`` side of ``get``, ``search`` and ``export``: the same
commands on a remote catalog through the client distribution (``aiod_kg_client``, installed
from ``clients/python``; imported only when ``--server`` is given) instead of the local store.

The token for a remote server (drafts, restricted assets) comes from ``--token`` or the
``AIOD_KG_TOKEN`` environment variable.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, BinaryIO

from api.cli.options import add_remote_options, add_store_options, client_for, settings_from

GET_FORMATS = ("json", "jsonld", "turtle", "ntriples", "rdfxml", "croissant")
EXPORT_PAGE = 500


def register(sub: Any) -> None:
    get = sub.add_parser(
        "get",
        help="print one asset (local store, or --server URL)",
        description="Print one asset from the local store, or from a running server (--server).",
    )
    get.add_argument("type", help="asset type, e.g. datasets")
    get.add_argument("identifier")
    get.add_argument("--format", default="json", choices=GET_FORMATS)
    add_store_options(get)
    add_remote_options(get)
    get.set_defaults(func=cmd_get)


def _api_error() -> type[Exception]:
    from aiod_kg_client import ClientError

    return ClientError


def _print(value: Any) -> None:
    if isinstance(value, (dict, list)):
        print(json.dumps(value, indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(value if value.endswith("\n") else value + "\n")


def _message(exc: Exception) -> str:
    """The server's detail of an error answer; the text of any other client error."""
    detail = getattr(exc, "detail", None)
    return str(detail) if detail is not None else str(exc)


def _fail(message: str) -> int:
    print(f"aiod-kg: {message}", file=sys.stderr)
    return 1


# --------------------------------------------------------------------------- get


def cmd_get(args: argparse.Namespace) -> int:
    from kg.model.fields import ASSET_TYPES

    if args.type not in ASSET_TYPES:
        return _fail(f"unknown type {args.type!r} ({', '.join(ASSET_TYPES)})")
    if args.format == "croissant" and args.type != "datasets":
        return _fail("Croissant describes datasets only")
    if args.server:
        with client_for(args) as client:
            try:
                _print(client.get_as(args.type, args.identifier, args.format))
            except _api_error() as exc:
                return _fail(_message(exc))
        return 0
    return _local_get(args)


def _local_get(args: argparse.Namespace) -> int:
    from kg.catalog import Catalog
    from kg.errors import NotFound
    from kg.formats.representation import render_one
    from kg.model.fields import ASSET_TYPES

    asset = ASSET_TYPES[args.type]
    catalog = Catalog(settings_from(args))
    try:
        if args.format == "json":
            _print(catalog.get(asset, args.identifier))
        elif args.format == "croissant":
            from kg.formats.croissant import to_croissant

            data = catalog.get(asset, args.identifier)
            _print(to_croissant(data, catalog.iri(asset, args.identifier)))
        elif args.format == "jsonld":
            _print(json.loads(render_one(catalog, asset, args.identifier, "jsonld")))
        else:
            _print(render_one(catalog, asset, args.identifier, args.format).decode("utf-8"))
    except NotFound as exc:
        return _fail(str(exc.detail))
    finally:
        catalog.close()
    return 0


# --------------------------------------------------------------------------- search


def remote_search(args: argparse.Namespace) -> int:
    """``aiod-kg search --server URL``: the same output as the local search."""
    with client_for(args) as client:
        try:
            found = client.search(
                args.query, type=args.type, platform=args.platform, limit=args.limit, mode=args.mode
            )
        except _api_error() as exc:
            return _fail(_message(exc))
    rows = [
        {"identifier": h.identifier, "type": h.type, "score": h.score, "name": h.name}
        for h in found.hits
    ]
    if args.json:
        print(json.dumps({"total_hits": found.total, "items": rows}, indent=2))
    else:
        for row in rows:
            print(f"{row['score']:7.3f}  {row['type']:<14} {row['identifier']}  {row['name']}")
        print(f"({len(rows)} of {found.total} hits)", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------- export


def _graph_of(line: str) -> str | None:
    """The asset graph of an N-Triples line: its subject's IRI up to ``#`` (nested nodes
    are ``<asset IRI>#...``)."""
    if not line.startswith("<"):
        return None
    return line[1 : line.index(">")].split("#", 1)[0]


def remote_export(args: argparse.Namespace, out: BinaryIO) -> int:
    """``aiod-kg export --server URL``: every asset the token may read, page by page."""
    from kg.formats.convert import reserialize
    from kg.model.fields import ASSET_TYPES

    names = [args.type] if args.type else list(ASSET_TYPES)
    with client_for(args) as client:
        try:
            if args.format == "json":
                everything = {
                    name: list(client.iter(name, page_size=EXPORT_PAGE)) for name in names
                }
                out.write(json.dumps(everything, indent=2).encode() + b"\n")
                return 0
            lines: list[str] = []
            for name in names:
                offset = 0
                while True:  # a page holds EXPORT_PAGE assets but the last
                    page = [
                        x
                        for x in client.list_as(
                            name, "ntriples", offset=offset, limit=EXPORT_PAGE
                        ).splitlines()
                        if x.strip()
                    ]
                    lines.extend(page)
                    if len({_graph_of(x) for x in page}) < EXPORT_PAGE:
                        break
                    offset += EXPORT_PAGE
        except _api_error() as exc:
            return _fail(_message(exc))
    if args.format == "nquads":
        for line in lines:
            graph = _graph_of(line)
            body = line.rstrip()[:-1].rstrip()
            out.write((f"{body} <{graph}> .\n" if graph else line + "\n").encode())
    elif args.format == "ntriples":
        out.write(("\n".join(lines) + "\n").encode() if lines else b"")
    else:
        out.write(reserialize("\n".join(lines).encode(), "ntriples", args.format))
    return 0
