"""Consistent online backup and restore of an embedded catalogue.

A backup holds, taken together under the catalog's write lock (writes wait a moment; reads go
on): each store partition through pyoxigraph ``Store.backup`` (a RocksDB checkpoint: hard links
to the immutable files when on the same file system, so it is quick at any size), and every
SQLite file beside the catalogue index (``catalog.sqlite`` with ownership, grants and API keys,
``harvest.sqlite``, ...) through SQLite's online backup API. The search index is not copied:
the first open after a restore rebuilds it from the store (its reconcile).

With ``AIOD_KG_DATABASE`` (PostgreSQL: the catalogue index, access tables, harvest and sync
state, ...) the backup also holds a dump of that database (``pg_dump --format=custom``, taken
inside the same write lock) and ``restore`` loads it back in one transaction, all or nothing
(``pg_restore --clean --if-exists --single-transaction``).
The binaries come with Debian's ``postgresql-client`` (on ``PATH`` or under
``/usr/lib/postgresql/*/bin``). The database URL's password is passed in ``PGPASSWORD``,
never on a command line, in the manifest or in an error message.

Layout of a backup directory::

    manifest.json       when, what, counts per type
    public/             the public partition (a pyoxigraph store)
    private/            the private partition (drafts, restricted, ...)
    sqlite/*.sqlite     the catalogue index and its siblings
    database.dump       on PostgreSQL: the database (pg_dump's custom format)

``restore`` copies a backup into an empty store location and opens it once (recovery check).

A partition on an Oxigraph server (``sparql+http://``, the cluster tier) is copied as an
N-Quads dump of the server's whole dataset (``public.nq``, ``private.nq``: its Graph Store
endpoint, streamed), taken under the same write lock, which on PostgreSQL every replica
honours; a restore loads it into an empty server (or into an embedded store, and a checkpoint
into a server: a backup moves between the tiers). Other engines are backed up with their own
tools.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from kg import __version__
from kg.catalog import Catalog
from kg.errors import CatalogError, UpstreamError
from kg.files.backup import backup_files, restore_files
from kg.model.fields import ASSET_TYPES
from kg.settings import Settings
from kg.store.backends import index_path, private_location
from kg.store.embedded import EmbeddedStore
from kg.store.remote import RemoteStore, is_remote

MANIFEST = "manifest.json"
DUMP = "database.dump"
DUMP_TIMEOUT_S = 3600


class BackupError(CatalogError):
    status = 409


def _partition(store: object, name: str) -> EmbeddedStore | RemoteStore:
    """A partition a backup can copy: an on-disk embedded store (a checkpoint) or an Oxigraph
    server (an N-Quads dump); other engines have their own tools."""
    if isinstance(store, RemoteStore):
        try:
            store._whole_dataset("backup")
        except UpstreamError as exc:  # another engine: its own tools
            raise BackupError(f"The {name} partition: {exc.detail}") from None
        return store
    if not isinstance(store, EmbeddedStore) or getattr(store, "path", None) is None:
        raise BackupError(
            f"The {name} partition is not an on-disk embedded store: back it up with its "
            "engine's own tools."
        )
    return store


def _copy_partition(store: EmbeddedStore | RemoteStore, destination: Path, name: str) -> str:
    """Copy one partition into the backup; returns how (``checkpoint`` or ``n-quads``)."""
    if isinstance(store, RemoteStore):
        store.dump_nquads(destination / f"{name}.nq")
        return "n-quads"
    store.store.flush()
    store.store.backup(str(destination / name))
    return "checkpoint"


def _restore_partition(how: str, source: Path, name: str, location: str) -> None:
    """Put one partition of the backup where ``location`` (a directory or an Oxigraph server)
    says; the target must be empty."""
    if is_remote(location):
        remote = RemoteStore(location)
        try:
            if not remote.is_empty():
                raise BackupError(f"Restore needs an empty store; the {name} store is not.")
            if how == "n-quads":
                remote.load_nquads(source / f"{name}.nq")
            else:  # a checkpoint of an embedded store, loaded into the server as quads
                dump = source / f".{name}.nq"
                ox.Store.read_only(str(source / name)).dump(str(dump), ox.RdfFormat.N_QUADS)
                try:
                    remote.load_nquads(dump)
                finally:
                    dump.unlink(missing_ok=True)
        finally:
            remote.close()
        return
    target = Path(location)
    if how == "n-quads":
        loaded = ox.Store(str(target))
        loaded.bulk_load(path=str(source / f"{name}.nq"), format=ox.RdfFormat.N_QUADS)
        loaded.flush()
        del loaded
        return
    target.mkdir(parents=True, exist_ok=True)
    for item in (source / name).iterdir():
        copy = target / item.name
        if item.is_dir():
            shutil.copytree(item, copy)
        else:
            shutil.copy2(item, copy)


def _sqlite_files(settings: Settings) -> list[Path]:
    folder = index_path(settings).parent
    return sorted(p for p in folder.glob("*.sqlite") if p.is_file())


def _copy_sqlite(source: Path, target: Path) -> None:
    src = sqlite3.connect(str(source), timeout=60)
    dst = sqlite3.connect(str(target))
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _database_url(settings: Settings) -> str | None:
    url = settings.database.get_secret_value() if settings.database is not None else None
    return url or None


def _pg_tool(name: str) -> str:
    """``pg_dump`` / ``pg_restore``: on PATH, else the newest under /usr/lib/postgresql."""
    found = shutil.which(name)
    if found:
        return found
    candidates = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
    if not candidates:
        raise BackupError(
            f"{name} is not installed (Debian: apt-get install postgresql-client): it is "
            "needed to back up and restore a catalogue kept in PostgreSQL."
        )
    return max(
        candidates, key=lambda p: [int(n) for n in Path(p).parts[-3].split(".") if n.isdigit()]
    )


def _pg_run(tool: str, url: str, arguments: list[str]) -> None:
    """Run a PostgreSQL client tool on the database ``url``: the connection's parameters
    without the password on the command line, the password in ``PGPASSWORD``."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        params = conninfo_to_dict(url)
    except Exception:
        raise BackupError("AIOD_KG_DATABASE is not a valid PostgreSQL URL.") from None
    password = params.pop("password", None)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    command = [_pg_tool(tool), "--dbname", make_conninfo("", **params), *arguments]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=DUMP_TIMEOUT_S)
    if done.returncode != 0:
        message = done.stderr.strip()
        if password:
            message = message.replace(str(password), "***")
        raise BackupError(f"{tool} failed: {message[-2000:]}")


def backup(catalog: Catalog, destination: Path) -> dict[str, Any]:
    """Write a consistent backup of ``catalog`` into ``destination`` (must not exist or be
    empty). Returns the manifest."""
    destination = Path(destination)
    if destination.exists() and any(destination.iterdir()):
        raise BackupError(f"The backup directory {destination} is not empty.")
    public = _partition(catalog.store.public, "public")
    private = _partition(catalog.store.private, "private")
    destination.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # no write is half done while we copy: on PostgreSQL the write lock holds every replica
    with catalog._write_lock, catalog.store.lock:
        stores = {
            "public": _copy_partition(public, destination, "public"),
            "private": _copy_partition(private, destination, "private"),
        }
        (destination / "sqlite").mkdir()
        files = _sqlite_files(catalog.settings)
        for path in files:
            _copy_sqlite(path, destination / "sqlite" / path.name)
        url = _database_url(catalog.settings)
        if url is not None:  # the same moment as the store: writers wait on the lock
            _pg_run(
                "pg_dump",
                url,
                [
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    "--file",
                    str(destination / DUMP),
                ],
            )
        counts = {name: catalog.count(asset) for name, asset in ASSET_TYPES.items()}
        stored_files = backup_files(catalog.settings, destination)  # kg/files/backup.py
    manifest = {
        "format": 1,
        "aiod_kg": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "base_url": catalog.base_url,
        "stores": stores,
        "sqlite": [p.name for p in files],
        "database": None if url is None else {"engine": "postgresql", "dump": DUMP},
        "counts": counts,
        "files": stored_files,
        "seconds": round(time.perf_counter() - started, 3),
    }
    (destination / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def restore(source: Path, settings: Settings) -> dict[str, Any]:
    """Copy the backup at ``source`` into the (empty or missing) store of ``settings``, then
    open it once (recovery). Returns the manifest."""
    source = Path(source)
    try:
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source} is not an aiod-kg backup ({exc}).") from None
    url = _database_url(settings)
    dumped = manifest.get("database")
    if dumped and url is None:
        raise BackupError(
            "This backup holds a PostgreSQL database: restore it with AIOD_KG_DATABASE set."
        )
    if url is not None and not dumped:
        raise BackupError(
            "This backup holds the catalogue's SQLite files, not a PostgreSQL database: "
            "restore it without AIOD_KG_DATABASE."
        )
    stores = manifest.get("stores") or {"public": "checkpoint", "private": "checkpoint"}
    private = private_location(settings)
    sqlite_dir = index_path(settings).parent  # creates the store folder (or the data folder)
    if not is_remote(settings.store):
        store = settings.store_path
        occupied = [
            p
            for p in store.iterdir()
            if is_remote(private) or p.resolve() != Path(private).resolve()
        ]
        if occupied or (
            not is_remote(private) and Path(private).exists() and any(Path(private).iterdir())
        ):
            raise BackupError(f"Restore needs an empty store location; {store} is not empty.")
        if not is_remote(private) and Path(private).exists():
            Path(private).rmdir()
    _restore_partition(str(stores["public"]), source, "public", settings.store)
    _restore_partition(str(stores["private"]), source, "private", private)
    for name in manifest.get("sqlite", []):
        shutil.copy2(source / "sqlite" / name, sqlite_dir / name)
    if url is not None and dumped:
        _pg_run(
            "pg_restore",
            url,
            [
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                # all or nothing: a restore that fails half-way leaves the database as it was
                "--single-transaction",
                str(source / str(dumped.get("dump") or DUMP)),
            ],
        )
    restore_files(source, settings)  # uploaded files (kg/files/backup.py)
    Catalog(settings).close()  # recovery check: opens both partitions and the index
    return dict(manifest)
