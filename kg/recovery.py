"""Keeping the catalogue index equal to the store when a write was interrupted.

A write journals its assets (the index's *pending* rows), replaces their graphs in the store
(one transaction), then commits their index rows and clears the journal (one transaction),
all under the catalog's write lock. A process killed in between leaves journal rows;
``recover`` repairs them -- a create that never committed is rolled back, a replace or delete
rolls the index forward to the store -- and rebuilds a missing index from the store. It runs
when a catalog opens and, for a writer in another process (a worker, a replica) killed
mid-write, in every running catalog: journal rows seen outside any write are that writer's
once the write lock is ours (a live writer holds it from its journal to its commit; the lock
dies with a killed holder), looked for every ``REPAIR_EVERY`` seconds (``_repair_others``).

``Recovery`` is the part of ``kg.catalog.Catalog`` that does this.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace as dataclass_replace
from datetime import UTC, datetime
from typing import Any

import orjson

from kg.group_commit import OwnedLock
from kg.model.fields import ASSET_TYPES, AssetType
from kg.model.identifiers import IDENTIFIER_RE
from kg.model.private import has_private, public_view, split_triples
from kg.model.rdf_mapping import Triple, asset_iri, triples_to_asset
from kg.store.index import CatalogIndex, Entry
from kg.store.partition import PartitionedStore

log = logging.getLogger("kg.catalog")

JSON = dict[str, Any]
REPAIR_EVERY = 1.0  # seconds between two looks for another process's interrupted write


def now() -> str:
    """The server clock as AIoD writes it: UTC, seconds, no zone suffix."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")


class Recovery:
    """Repairs of interrupted writes and rebuilds of the index (see the module docstring)."""

    base_url: str
    store: PartitionedStore
    index: CatalogIndex
    _write_lock: OwnedLock
    _closing: threading.Event

    def iri(self, asset: AssetType, identifier: str) -> str:
        return asset_iri(self.base_url, asset, identifier)

    def _repair_others(self) -> None:
        """Every ``REPAIR_EVERY`` seconds: journal rows seen outside any write are another
        process's interrupted write once the write lock is ours (a live writer holds it from
        its journal to its commit; the lock dies with a killed holder), so they are repaired
        (``recover``): on every worker and replica, within a second or two of the kill."""
        while not self._closing.wait(REPAIR_EVERY):
            try:
                if self.index.pending():
                    with self._write_lock:
                        repaired = self.recover(rebuild=False)
                    if repaired:
                        log.warning("repaired %d interrupted writes of another process", repaired)
            except Exception:  # a closing store or database: the next round tries again
                log.debug("repairing interrupted writes failed", exc_info=True)

    def recover(self, rebuild: bool = True) -> int:
        """Repair index rows whose write was interrupted; rebuild a missing index (unless
        ``rebuild`` is False).

        Returns the number of rows repaired.
        """
        pending = self.index.pending()
        repaired = 0
        if pending:
            upserts, deletes, rolled_back = [], [], []
            for identifier, type_ in pending:
                asset = ASSET_TYPES[type_]
                if self.index.get(identifier) is None:
                    # a create that never committed (its graph may be partial): roll back
                    rolled_back.append(self.iri(asset, identifier))
                    continue
                # a replace or delete of a live asset: the store holds the old or the new
                # graph as a whole (one transaction), so roll the index forward to it
                entry = self._entry_from_store(asset, identifier)
                if entry is None:
                    deletes.append((identifier, type_))
                else:
                    upserts.append(entry)
            self.store.delete_graphs(rolled_back)
            # an asset that was changing partition may have a copy in both: keep one
            self.store.reconcile(
                (self.iri(ASSET_TYPES[t], i) for i, t in pending), is_annex=self._is_private_annex
            )
            self.index.commit_entries(upserts, deletes, deleted_at=now())
            self.index.clear_pending(i for i, _ in pending)
            repaired = len(pending)
        if (
            rebuild
            and self.index.count_by_platform() == {}
            and next(self.store.graph_names(), None)
        ):
            repaired += self.rebuild_index()
        return repaired

    def _is_private_annex(self, iri: str, private_triples: list[Triple]) -> bool:
        """Whether a graph's private-partition copy holds only the private fields of a public
        asset (kept beside the public graph, kg/model/private.py) rather than a whole copy."""
        asset, _ = self._parse_iri(iri)
        if asset is None or not has_private(asset):
            return False
        public, private = split_triples(asset, private_triples)
        return bool(private) and not public

    def rebuild_index(self) -> int:
        """Recreate the index from the store (the source of truth)."""
        with self._write_lock:
            self.index.clear()
            batch: list[Entry] = []
            count = 0
            for iri in self.store.graph_names():
                asset, identifier = self._parse_iri(iri)
                if asset is None or identifier is None:
                    continue
                entry = self._entry_from_store(asset, identifier)
                if entry is not None:
                    batch.append(entry)
                if len(batch) >= 5000:
                    self.index.commit_entries(batch)
                    count += len(batch)
                    batch = []
            self.index.commit_entries(batch)
            return count + len(batch)

    def _parse_iri(self, iri: str) -> tuple[AssetType | None, str | None]:
        prefix = self.base_url + "/"
        if not iri.startswith(prefix):
            return None, None
        collection, _, identifier = iri[len(prefix) :].partition("/")
        asset = ASSET_TYPES.get(collection)
        if asset is None or not IDENTIFIER_RE.match(identifier):
            return None, None
        return asset, identifier

    def _entry_from_store(self, asset: AssetType, identifier: str) -> Entry | None:
        triples = self.store.graph(self.iri(asset, identifier))
        if not triples:
            return None
        data = triples_to_asset(asset, self.iri(asset, identifier), triples, self.base_url)
        data = public_view(asset, data)  # documents never hold private fields
        return dataclass_replace(self._entry(asset, identifier, data), document=orjson.dumps(data))

    @staticmethod
    def _entry(asset: AssetType, identifier: str, data: JSON) -> Entry:
        entry = data.get("aiod_entry") or {}
        created = str(entry.get("date_created") or now())
        return Entry(
            identifier=identifier,
            type=asset.collection,
            platform=data.get("platform") if asset.collection != "platforms" else None,
            platform_resource_identifier=data.get("platform_resource_identifier"),
            status=entry.get("status"),
            date_created=created,
            date_modified=str(entry.get("date_modified") or created),
        )
