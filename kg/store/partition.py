"""Public and non-public assets in two separate stores (DESIGN.md section 4).

``PartitionedStore`` is the ``GraphStore`` the catalog writes to. It holds two stores of any
backend: *public* (published assets) and *private* (drafts and everything else). The SPARQL
endpoint only ever queries the public store, with its union of named graphs as the default
graph: whatever a query does (``GRAPH ?g``, ``FROM NAMED``, ``DESCRIBE``, property paths), the
non-public graphs are not in the dataset it runs on, so they cannot leak through it.

Writes within one partition keep the backend's atomicity (one SPARQL Update per batch). An
asset that changes partition (a draft published, a published asset withdrawn) is written to
its new partition first and dropped from the old one second; readers of ``graph`` look in the
public partition first, so they see the old graph or the new one, never a mix, and the public
partition never holds a non-public version. A crash between the two steps leaves a copy in
both partitions; ``reconcile`` (called by ``Catalog.recover`` for journalled assets) keeps the
public one, which is the old version in one direction and the new one in the other -- either
way a whole graph whose index row the catalog then re-derives.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence

from kg.model.rdf_mapping import Triple
from kg.store.embedded import GraphStore
from kg.store.public_index import PUBLIC_STATUSES


def is_public_status(status: str | None) -> bool:
    """Whether an asset with this ``aiod_entry.status`` belongs in the public partition."""
    return status in PUBLIC_STATUSES


class PartitionedStore:
    """A ``GraphStore`` over a public and a private store; see the module docstring."""

    def __init__(self, public: GraphStore, private: GraphStore) -> None:
        self.public = public
        self.private = private
        #: held by every write and while a query worker is forked from this process, so that a
        #: worker's snapshot never contains half of a write
        self.lock = threading.Lock()
        #: incremented after every write to the public partition (query workers compare it)
        self.version = 0
        self._on_close: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ writes

    @staticmethod
    def _split(
        graphs: Mapping[str, Sequence[Triple]], private: Collection[str]
    ) -> tuple[dict[str, Sequence[Triple]], dict[str, Sequence[Triple]]]:
        public_part = {iri: t for iri, t in graphs.items() if iri not in private}
        private_part = {iri: t for iri, t in graphs.items() if iri in private}
        return public_part, private_part

    def replace_graphs(
        self, graphs: Mapping[str, Sequence[Triple]], private: Collection[str] = frozenset()
    ) -> None:
        """Replace each graph in its partition (``private``: the IRIs that are not public)."""
        if not graphs:
            return
        public_part, private_part = self._split(graphs, private)
        with self.lock:
            # the new version first, then drop a copy left in the other partition
            if public_part:
                self.public.replace_graphs(public_part)
            if private_part:
                self.private.replace_graphs(private_part)
                self.public.delete_graphs(private_part)
                self.version += 1
            if public_part:
                self.private.delete_graphs(public_part)
                self.version += 1

    def insert_new_graphs(
        self, graphs: Mapping[str, Sequence[Triple]], private: Collection[str] = frozenset()
    ) -> None:
        """Write brand-new graphs (bulk loader where the backend has one)."""
        public_part, private_part = self._split(graphs, private)
        with self.lock:
            for store, part in ((self.public, public_part), (self.private, private_part)):
                if not part:
                    continue
                bulk = getattr(store, "insert_new_graphs", None)
                if bulk is not None:
                    bulk(part)
                else:
                    store.replace_graphs(part)
            if public_part:
                self.version += 1

    @property
    def takes_nquads(self) -> bool:
        """Whether both partitions load N-Quads text with their bulk loader."""
        return all(hasattr(s, "insert_new_nquads") for s in (self.public, self.private))

    def insert_new_nquads(self, public: bytes, private: bytes) -> None:
        """Write brand-new graphs serialised as N-Quads already, into each partition (only
        when ``takes_nquads``; not transactional, like ``insert_new_graphs``)."""
        with self.lock:
            if private:
                self.private.insert_new_nquads(private)  # type: ignore[attr-defined]
            if public:
                self.public.insert_new_nquads(public)  # type: ignore[attr-defined]
                self.version += 1

    def delete_graphs(self, iris: Iterable[str]) -> None:
        names = list(iris)
        if not names:
            return
        with self.lock:
            self.public.delete_graphs(names)
            self.private.delete_graphs(names)
            self.version += 1

    def reconcile(
        self, iris: Iterable[str], is_annex: Callable[[str, list[Triple]], bool] | None = None
    ) -> int:
        """Drop the private copy of graphs found in both partitions; returns how many.

        ``is_annex(iri, private_triples)`` says when the private graph is not a copy but the
        private fields of a public asset (kg/model/private.py), which stay."""
        both = [iri for iri in iris if self.public.has_graph(iri) and self.private.has_graph(iri)]
        if is_annex is not None:
            both = [iri for iri in both if not is_annex(iri, self.private.graph(iri))]
        if both:
            with self.lock:
                self.private.delete_graphs(both)
        return len(both)

    # ------------------------------------------------------------------ reads

    def graph(self, iri: str) -> list[Triple]:
        return self.public.graph(iri) or self.private.graph(iri)

    def has_graph(self, iri: str) -> bool:
        return self.public.has_graph(iri) or self.private.has_graph(iri)

    def is_public(self, iri: str) -> bool:
        return self.public.has_graph(iri)

    def graph_names(self) -> Iterator[str]:
        yield from self.public.graph_names()
        for name in self.private.graph_names():
            if not self.public.has_graph(name):
                yield name

    def serialize(self, triples: Sequence[Triple], fmt: str) -> bytes:
        return self.public.serialize(triples, fmt)

    # ------------------------------------------------------------------ life cycle

    def on_close(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` when the store closes (query workers stop with their store)."""
        self._on_close.append(callback)

    def flush(self) -> None:
        for store in (self.public, self.private):
            flush = getattr(store, "flush", None)
            if flush is not None:
                flush()

    def close(self) -> None:
        callbacks, self._on_close = self._on_close, []
        for callback in callbacks:
            callback()
        self.public.close()
        self.private.close()
