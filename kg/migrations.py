"""Migrations of stored catalogs: run once when a catalog is opened, recorded in its index.

Each migration brings data written by an earlier version to what this version expects. They
run under the catalog's write lock (so one process of many does the work) and are recorded by
name in the ``migrations`` table of the catalogue index, so an open after them scans nothing.
A store with no asset yet records every migration as done without running it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson

from kg.model.fields import ASSET_TYPES
from kg.model.private import PRIVATE_FIELDS, public_view, split_triples
from kg.model.rdf_mapping import triples_to_asset

if TYPE_CHECKING:
    from kg.catalog import Catalog
    from kg.store.index import CatalogIndex

SCHEMA = """
CREATE TABLE IF NOT EXISTS migrations (
    name TEXT PRIMARY KEY,
    done_at TEXT NOT NULL,
    changed INTEGER NOT NULL
)
"""


@dataclass(frozen=True)
class Migration:
    name: str
    summary: str
    run: Callable[[Catalog], int]  # returns how many assets it changed


def _private_fields_out_of_public(catalog: Catalog) -> int:
    """Contact details became private (kg/model/private.py): in older stores a published
    contact's e-mail and telephone sit in the public partition and its cached document. Move
    them to the private partition under the same graph IRI and re-derive the document; the
    change goes through the index, so the feed tells search and the other followers."""
    changed = 0
    for collection in PRIVATE_FIELDS:
        asset = ASSET_TYPES[collection]
        batch = []
        for identifier in list(catalog.index.identifiers(collection)):
            iri = catalog.iri(asset, identifier)
            public_graph = catalog.store.public.graph(iri)
            public, private = split_triples(asset, public_graph)
            document = catalog.index.document(identifier, collection)
            leaked_document = document is not None and any(
                name in orjson.loads(document) for name in PRIVATE_FIELDS[collection]
            )
            if not private and not leaked_document:
                continue
            if private:
                kept = list(dict.fromkeys(catalog.store.private.graph(iri) + private))
                with catalog.store.lock:
                    catalog.store.private.replace_graphs({iri: kept})
                    catalog.store.public.replace_graphs({iri: public})
                    catalog.store.version += 1
            entry = catalog.index.get(identifier)
            if entry is None:
                continue
            source = public if public_graph else catalog.store.graph(iri)
            data = public_view(asset, triples_to_asset(asset, iri, source, catalog.base_url))
            batch.append(replace(entry, document=orjson.dumps(data)))
            changed += 1
        catalog.index.commit_entries(batch)
    return changed


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "contact-details-private",
        "contacts' e-mail and telephone out of the public partition and cached documents",
        _private_fields_out_of_public,
    ),
)


def applied(index: CatalogIndex) -> list[str]:
    """The names of the migrations this index has recorded."""
    index.database.create(SCHEMA)
    return [str(row[0]) for row in index.connection().execute("SELECT name FROM migrations")]


def run_migrations(catalog: Catalog) -> dict[str, int]:
    """Run the migrations this catalog has not recorded; returns name -> assets changed.
    The caller holds the catalog's write lock."""
    done = set(applied(catalog.index))
    todo = [m for m in MIGRATIONS if m.name not in done]
    if not todo:
        return {}
    empty = catalog.index.count_by_platform() == {}
    results: dict[str, int] = {}
    for migration in todo:
        changed = 0 if empty else migration.run(catalog)
        with catalog.index.transaction() as db:
            db.execute(
                "INSERT INTO migrations (name, done_at, changed) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET done_at = excluded.done_at,"
                " changed = excluded.changed",
                (migration.name, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), changed),
            )
        results[migration.name] = changed
    return results
