"""aiod-kg: the knowledge-graph catalog of AI assets, from the command line.

This module owns the top-level parser and the store commands (serve, import, export, validate,
generate, rebuild-index, query); the other sub-commands live in their own modules, which
``build_parser`` registers (they never import this one). Settings come from
``api.cli.options.settings_from``. Heavy imports happen inside the commands that need them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from api.cli.options import add_remote_options, add_store_options, settings_from
from kg.settings import Settings

IMPORT_BATCH = 1000  # records of a batch of ``import --jobs N`` (one write transaction each)
SUFFIX_FORMATS = {
    ".json": "json",
    ".jsonld": "jsonld",
    ".ttl": "turtle",
    ".nt": "ntriples",
    ".rdf": "rdfxml",
    ".owl": "rdfxml",
    ".xml": "rdfxml",
}


# --------------------------------------------------------------------------- serve


def load_demo(settings: Settings) -> int:
    """Fill an empty store with the demo catalog (``api.demo.catalog``)."""
    from api.demo.catalog import load_demo

    return load_demo(settings)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    settings = settings_from(args)  # the base URL follows --host/--port unless set
    from api.hardening import production_problems

    problems = production_problems(settings)
    if problems:  # AIOD_KG_PRODUCTION with a missing or default secret
        print("refusing to start in production mode:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    if args.demo:
        loaded = load_demo(settings)
        if loaded:
            print(f"demo: loaded {loaded} assets into {settings.store}")
    workers = args.workers or settings.workers
    if workers > 1:  # N processes on one catalog (api/cli/workers.py)
        from api.cli.workers import Schedule, serve_workers
        from kg.harvest import parse_interval

        schedule = Schedule(args.harvest_every, args.sync_every)
        try:
            for every in (args.harvest_every, args.sync_every):
                if every:
                    parse_interval(every)
        except ValueError as exc:
            print(f"aiod-kg serve: {exc}", file=sys.stderr)
            return 2
        return serve_workers(settings, workers, args.log_level, schedule)
    from api.cli.workers import install_worker_header

    if not args.harvest_every and not args.sync_every:
        app = create_app(settings)
        install_worker_header(app, settings)  # AIOD_KG_WORKER_HEADER
        uvicorn.run(
            app, host=settings.host, port=settings.port, log_level=args.log_level, access_log=False
        )
        return 0
    from api.cli.harvest import start_scheduler
    from api.cli.sync import start_sync_scheduler
    from kg.catalog import Catalog

    catalog = Catalog(settings)  # shared by the API and the scheduled harvests / syncs
    schedulers: list[Any] = []
    try:
        if args.harvest_every:
            schedulers.append(start_scheduler(catalog, settings, args.harvest_every))
        if args.sync_every:  # AIoD node: push to the central (kg/sync)
            schedulers.append(start_sync_scheduler(catalog, args.sync_every))
    except ValueError as exc:
        for started in schedulers:
            started.stop()
        catalog.close()
        print(f"aiod-kg serve: {exc}", file=sys.stderr)
        return 2
    try:
        app = create_app(settings, catalog)
        install_worker_header(app, settings)
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level=args.log_level,
            access_log=False,
        )
    finally:
        for scheduler in schedulers:
            scheduler.stop()
        catalog.close()
    return 0


# --------------------------------------------------------------------------- import / export


def _records_from_file(path: Path, asset_name: str | None, base_url: str) -> list[tuple[str, Any]]:
    """``[(asset type, AIoD JSON)]`` read from one file."""
    from kg.formats.rdf_input import asset_from_rdf, parse_jsonld, parse_rdf
    from kg.model.fields import ASSET_TYPES

    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SystemExit(f"{path}: unknown file type (use .json, .jsonld, .ttl, .nt, .rdf)")
    if fmt in ("json", "jsonld"):
        from kg.formats.croissant import from_croissant, is_croissant

        document = json.loads(path.read_bytes())
        if is_croissant(document):  # a Croissant (MLCommons) file describes one dataset
            return [("datasets", from_croissant(document))]
    asset_name = asset_name or _guess_type(path)
    if asset_name not in ASSET_TYPES:
        raise SystemExit(f"{path}: give the asset type with --type ({', '.join(ASSET_TYPES)})")
    asset = ASSET_TYPES[asset_name]
    body = path.read_bytes()
    if fmt == "json":
        data = json.loads(body)
        items = data if isinstance(data, list) else [data]
        return [(asset_name, item) for item in items]
    triples = (
        parse_jsonld(body, base_url) if fmt == "jsonld" else parse_rdf(body, fmt, base_url + "/")
    )
    return [(asset_name, asset_from_rdf(asset, triples, base_url))]


def _guess_type(path: Path) -> str | None:
    from kg.model.fields import ASSET_TYPES

    stem = path.stem.lower()
    for name, asset in ASSET_TYPES.items():
        if stem.startswith(name) or stem.startswith(asset.singular):
            return name
    return None


def cmd_import(args: argparse.Namespace) -> int:
    from collections import deque

    from kg.bulk import BulkImport
    from kg.catalog import Catalog
    from kg.model.fields import ASSET_TYPES, AssetType

    settings = settings_from(args)
    catalog = Catalog(settings)
    failures = 0
    size = IMPORT_BATCH if args.jobs else None  # no worker: a file's type at once
    labels: deque[tuple[Path, int]] = deque()  # each batch's file and first position

    def batches() -> Iterator[tuple[AssetType, list[Any]]]:
        for file_name in args.files:
            path = Path(file_name)
            records = _records_from_file(path, args.type, settings.base)
            by_type: dict[str, list[Any]] = {}
            for name, record in records:
                by_type.setdefault(name, []).append(record)
            for name, items in by_type.items():
                for start in range(0, len(items), size or len(items)):
                    labels.append((path, start))
                    yield ASSET_TYPES[name], items[start : start + (size or len(items))]

    try:
        # --jobs N: mapping and validation in N worker processes, this one writing (kg/bulk.py)
        with BulkImport(catalog, jobs=args.jobs) as bulk:
            for _, results in bulk.save(batches(), mode=args.mode):
                path, start = labels.popleft()
                for result in results:
                    position = start + result.index
                    if result.ok:
                        print(f"{path}[{position}]: {result.identifier}")
                        continue
                    failures += 1
                    if result.conflict:
                        print(
                            f"{path}[{position}]: conflict with {result.conflict}", file=sys.stderr
                        )
                    for problem in result.problems:
                        print(
                            f"{path}[{position}]: {problem.field}: {problem.message}"
                            f" (value: {problem.value!r})",
                            file=sys.stderr,
                        )
    finally:
        catalog.close()
    return 1 if failures else 0


def cmd_export(args: argparse.Namespace) -> int:
    from kg.catalog import Catalog
    from kg.model.fields import ASSET_TYPES
    from kg.store.embedded import serialize_triples

    out = sys.stdout.buffer if args.output in (None, "-") else open(args.output, "wb")  # noqa: SIM115
    if args.server:  # a remote catalog (api/cli/client.py)
        from api.cli.client import remote_export

        try:
            return remote_export(args, out)
        finally:
            if out is not sys.stdout.buffer:
                out.close()
    settings = settings_from(args)
    catalog = Catalog(settings)
    try:
        names = [args.type] if args.type else list(ASSET_TYPES)
        if args.format == "json":
            everything = {}
            for name in names:
                asset = ASSET_TYPES[name]
                everything[name] = [catalog.get(asset, i) for i in catalog.index.identifiers(name)]
            out.write(json.dumps(everything, indent=2).encode() + b"\n")
            return 0
        fmt = "nquads" if args.format == "nquads" else args.format
        for name in names:
            asset = ASSET_TYPES[name]
            for identifier in catalog.index.identifiers(name):
                triples = catalog.triples(asset, identifier)
                if fmt == "nquads":
                    graph = catalog.iri(asset, identifier)
                    for line in serialize_triples(triples, "ntriples").decode().splitlines():
                        out.write(f"{line[:-1].rstrip()} <{graph}> .\n".encode())
                else:
                    out.write(serialize_triples(triples, fmt))
        return 0
    finally:
        if out is not sys.stdout.buffer:
            out.close()
        catalog.close()


def cmd_validate(args: argparse.Namespace) -> int:
    from kg.model.fields import ASSET_TYPES
    from kg.model.rdf_mapping import asset_iri, asset_to_triples
    from kg.model.validation import validate_conversions

    settings = settings_from(args, remember=False)  # validates; stores nothing
    bad = 0
    for file_name in args.files:
        path = Path(file_name)
        for position, (name, record) in enumerate(
            _records_from_file(path, args.type, settings.base)
        ):
            asset = ASSET_TYPES[name]
            iri = asset_iri(settings.base, asset, f"{asset.prefix}_{'0' * 24}")
            conversion = asset_to_triples(asset, record, iri, settings.base)
            problems = validate_conversions([conversion], engine=args.engine).get(iri, [])
            if not problems:
                print(f"{path}[{position}]: valid {asset.singular}")
                continue
            bad += 1
            for problem in problems:
                print(
                    f"{path}[{position}]: {problem.field}: {problem.message}"
                    f" (value: {problem.value!r})"
                )
    return 1 if bad else 0


def cmd_generate(args: argparse.Namespace) -> int:
    """Write the generated artefacts: shapes, context, docs/mapping.md, the settings table."""
    from kg.model.context import build_context
    from kg.model.shapes_gen import render_shapes

    root = Path(args.root)
    for name, text in render_shapes().items():
        (root / "shapes" / name).write_text(text, encoding="utf-8")
    (root / "ontology" / "context.jsonld").write_text(
        json.dumps(build_context(), indent=2) + "\n", encoding="utf-8"
    )
    from kg.model.docs_gen import render_mapping_table

    (root / "docs").mkdir(exist_ok=True)
    (root / "docs" / "mapping.md").write_text(
        render_mapping_table(root / "ontology" / "aiod.ttl"), encoding="utf-8"
    )
    from kg.settings_table import with_settings_table

    readme = root / "README.md"
    if readme.exists():  # the settings table between its markers
        readme.write_text(with_settings_table(readme.read_text(encoding="utf-8")), "utf-8")
    print(
        "wrote shapes/*.ttl, ontology/context.jsonld, docs/mapping.md and the README's"
        f" settings table under {root}"
    )
    return 0


def cmd_rebuild_index(args: argparse.Namespace) -> int:
    from kg.catalog import Catalog

    catalog = Catalog(settings_from(args))
    try:
        print(f"indexed {catalog.rebuild_index()} assets")
    finally:
        catalog.close()
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    """Run one SPARQL query on the configured store (public partition unless --private)."""
    from kg.catalog import Catalog
    from kg.errors import CatalogError
    from kg.sparql.service import SparqlService

    text = sys.stdin.read() if args.query == "-" else args.query
    if args.file:
        text = Path(args.file).read_text(encoding="utf-8")
    settings = settings_from(args, sparql_timeout=args.timeout)
    catalog = Catalog(settings)
    service = SparqlService(
        catalog.store, settings, partition="private" if args.private else "public"
    )
    try:
        answer = service.query(text, fmt=args.format)
    except CatalogError as exc:
        detail = exc.detail
        if isinstance(detail, dict) and detail.get("line"):
            detail = f"{detail['message']} (line {detail['line']}, column {detail['column']})"
        elif isinstance(detail, dict):
            detail = detail.get("message", detail)
        print(f"aiod-kg query: {detail}", file=sys.stderr)
        return 1
    finally:
        catalog.close()
    sys.stdout.buffer.write(answer.body)
    if not answer.body.endswith(b"\n"):
        sys.stdout.buffer.write(b"\n")
    return 0


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiod-kg",
        description="aiod-kg: the knowledge-graph catalog of AI assets (AIoD REST API v2, "
        "SPARQL, DCAT-AP). Every setting is also an AIOD_KG_* environment variable.",
    )
    sub = parser.add_subparsers(title="commands", dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="run the HTTP API",
        description="Run the HTTP API. Unless AIOD_KG_BASE_URL (--base-url) is set, asset IRIs "
        "and links use http://HOST:PORT; a store keeps the base URL it was first used with.",
    )
    serve.add_argument("--host", help="address to bind (AIOD_KG_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (AIOD_KG_PORT, default 8000)")
    serve.add_argument("--demo", action="store_true", help="load the demo catalog when empty")
    serve.add_argument(
        "--workers",
        type=int,
        choices=range(1, 65),
        metavar="N",
        help="API processes (AIOD_KG_WORKERS, default 1); above 1, an Oxigraph server owns "
        "the store and the workers share the SQLite files",
    )
    serve.add_argument(
        "--log-level", default="info", choices=("critical", "error", "warning", "info", "debug")
    )
    serve.add_argument(
        "--harvest-every",
        metavar="INTERVAL",
        help="harvest the configured connectors now and every INTERVAL (1h, 30m)",
    )
    serve.add_argument(
        "--sync-every",
        metavar="INTERVAL",
        help="AIoD node: push the shared assets to the central now and every INTERVAL",
    )
    add_store_options(serve)
    serve.set_defaults(func=cmd_serve)

    imp = sub.add_parser("import", help="import AIoD JSON, JSON-LD, Turtle, N-Triples, RDF/XML")
    imp.add_argument("files", nargs="+")
    imp.add_argument("--type", help="asset type (default: from the file name)")
    imp.add_argument(
        "--mode",
        choices=("create", "upsert"),
        default="upsert",
        help="upsert (default) replaces assets with the same platform id",
    )
    imp.add_argument(
        "--jobs",
        type=int,
        default=0,
        metavar="N",
        help="map and validate in N worker processes while this one writes (bulk imports: "
        "one per core; default 0: all in this process)",
    )
    add_store_options(imp)
    imp.set_defaults(func=cmd_import)

    exp = sub.add_parser(
        "export",
        help="export the catalog (local store, or --server URL)",
        description="Export every asset (the caller may read) of the local store or a server.",
    )
    exp.add_argument(
        "--format", default="nquads", choices=("nquads", "turtle", "ntriples", "rdfxml", "json")
    )
    exp.add_argument("--type", help="only this asset type")
    exp.add_argument("--output", "-o", help="file (default: standard output)")
    add_store_options(exp)
    add_remote_options(exp)
    exp.set_defaults(func=cmd_export)

    val = sub.add_parser("validate", help="validate files against the shapes without storing")
    val.add_argument("files", nargs="+")
    val.add_argument("--type", help="asset type (default: from the file name)")
    val.add_argument("--engine", choices=("compiled", "pyshacl"), default="pyshacl")
    add_store_options(val)
    val.set_defaults(func=cmd_validate)

    gen = sub.add_parser(
        "generate", help="regenerate shapes/*.ttl, ontology/context.jsonld and docs/mapping.md"
    )
    gen.add_argument("--root", default=".", help="the checkout to write into (default: .)")
    gen.set_defaults(func=cmd_generate)

    rebuild = sub.add_parser("rebuild-index", help="rebuild the catalogue index from the store")
    add_store_options(rebuild)
    rebuild.set_defaults(func=cmd_rebuild_index)

    query = sub.add_parser("query", help="run a SPARQL query on the configured store")
    query.add_argument(
        "query",
        nargs="?",
        default="-",
        help="the query text ('-' or nothing: read it from standard input)",
    )
    query.add_argument("--file", "-f", help="read the query from this file")
    query.add_argument(
        "--format",
        help="json, xml, csv, tsv (SELECT/ASK); turtle, ntriples, "
        "jsonld, rdfxml (CONSTRUCT/DESCRIBE); default json / turtle",
    )
    query.add_argument(
        "--private",
        action="store_true",
        help="query the non-public partition (drafts, ...) instead",
    )
    query.add_argument("--timeout", type=float, help="seconds (AIOD_KG_SPARQL_TIMEOUT)")
    add_store_options(query)
    query.set_defaults(func=cmd_query)

    # the other sub-commands, each in its module (they import api.cli.options, never main)
    from api.cli import auth, backup, client, files, linking, search
    from api.cli.harvest import add_harvest_parser
    from api.cli.sync import add_sync_parser

    add_harvest_parser(sub)
    add_sync_parser(sub)
    for module in (search, client, auth, backup, files, linking):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
