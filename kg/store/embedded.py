"""The RDF store: one named graph per asset, graph IRI = asset IRI.

``GraphStore`` is the interface the rest of ``kg`` uses; ``EmbeddedStore`` implements it on
an on-disk ``pyoxigraph.Store``. Replacing or deleting graphs is one SPARQL Update request,
which Oxigraph runs as one transaction: a reader sees the old graphs or the new, never a mix.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import pyoxigraph as ox

from kg.model.namespaces import PREFIXES
from kg.model.rdf_mapping import IRI, Lit, Term, Triple

RDF_FORMATS: dict[str, ox.RdfFormat] = {
    "turtle": ox.RdfFormat.TURTLE,
    "ntriples": ox.RdfFormat.N_TRIPLES,
    "rdfxml": ox.RdfFormat.RDF_XML,
    "nquads": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG,
}


class GraphStore(Protocol):
    """What the catalog needs from an RDF store."""

    def replace_graphs(self, graphs: Mapping[str, Sequence[Triple]]) -> None:
        """Atomically replace (or create) each named graph with the given triples."""

    def delete_graphs(self, iris: Iterable[str]) -> None:
        """Atomically drop the named graphs (missing ones are ignored)."""

    def graph(self, iri: str) -> list[Triple]:
        """All triples of one named graph (empty if it does not exist)."""

    def has_graph(self, iri: str) -> bool: ...

    def graph_names(self) -> Iterator[str]: ...

    def serialize(self, triples: Sequence[Triple], fmt: str) -> bytes: ...

    def close(self) -> None: ...


# --------------------------------------------------------------------------- term helpers


_LITERAL_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_LITERAL_SPECIAL = re.compile('[\\\\"\x00-\x1f\x7f]')
# what N-Triples' / SPARQL's IRIREF may not contain
_IRIREF_FORBIDDEN = re.compile('[\x00-\x20<>"{}|^`\\\\\x7f-\x9f]')


class UnsafeTerm(ValueError):
    """A term that cannot be written into an N-Triples / SPARQL Update text as it is."""


def escape_literal(text: str) -> str:
    """Escape a lexical form for N-Triples / Turtle / SPARQL string literals: quotes,
    backslashes and every control character (``\\uXXXX``), so no byte of the value can end the
    literal or reach a store that refuses raw controls."""
    return _LITERAL_SPECIAL.sub(
        lambda m: _LITERAL_ESCAPES.get(m.group(0), f"\\u{ord(m.group(0)):04X}"), text
    )


def iri_ref(value: str) -> str:
    """``<value>`` for an N-Triples / SPARQL text; raises ``UnsafeTerm`` when the IRI holds a
    character IRIREF does not allow (it could end the IRI or break the request)."""
    if not value or _IRIREF_FORBIDDEN.search(value):
        raise UnsafeTerm(f"IRI {value!r} cannot be stored: it holds a forbidden character.")
    return f"<{value}>"


def unsafe_terms(triples: Iterable[Triple]) -> list[str]:
    """The IRIs among ``triples`` that ``iri_ref`` would refuse (checked before a write)."""
    bad = []
    for s, p, o in triples:
        for value in (s, p, o.value if isinstance(o, IRI) else o.datatype):
            if not value or _IRIREF_FORBIDDEN.search(value):
                bad.append(value)
    return bad


def nt_term(term: Term) -> str:
    if isinstance(term, IRI):
        return iri_ref(term.value)
    return f'"{escape_literal(term.lexical)}"^^{iri_ref(term.datatype)}'


def to_ox(term: Term) -> ox.NamedNode | ox.Literal:
    if isinstance(term, IRI):
        return ox.NamedNode(term.value)
    return ox.Literal(term.lexical, datatype=ox.NamedNode(term.datatype))


def from_ox(term: object) -> Term:
    if isinstance(term, ox.NamedNode):
        return IRI(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Lit(term.value, "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString")
        return Lit(term.value, term.datatype.value)
    if isinstance(term, ox.BlankNode):
        return IRI(f"_:{term.value}")
    raise TypeError(f"unexpected RDF term {term!r}")


def serialize_triples(triples: Sequence[Triple], fmt: str) -> bytes:
    """Serialise triples with pyoxigraph (Turtle, N-Triples, RDF/XML)."""
    ox_triples = [ox.Triple(ox.NamedNode(s), ox.NamedNode(p), to_ox(o)) for s, p, o in triples]
    rdf_format = RDF_FORMATS[fmt]
    prefixes = PREFIXES if rdf_format in (ox.RdfFormat.TURTLE, ox.RdfFormat.RDF_XML) else None
    data = ox.serialize(ox_triples, format=rdf_format, prefixes=prefixes)
    assert isinstance(data, bytes)
    return data


def update_request(replace: Mapping[str, Sequence[Triple]], delete: Iterable[str] = ()) -> str:
    """One SPARQL Update request dropping ``delete`` and replacing ``replace``."""
    parts = [f"DROP SILENT GRAPH {iri_ref(iri)}" for iri in delete]
    parts += [f"DROP SILENT GRAPH {iri_ref(iri)}" for iri in replace]
    body = []
    for iri, triples in replace.items():
        if not triples:
            continue
        lines = "\n".join(f"{iri_ref(s)} {iri_ref(p)} {nt_term(o)} ." for s, p, o in triples)
        body.append(f"GRAPH {iri_ref(iri)} {{\n{lines}\n}}")
    if body:
        parts.append("INSERT DATA {\n" + "\n".join(body) + "\n}")
    return " ;\n".join(parts)


def _graph_blocks(triples_by_graph: Mapping[str, Sequence[Triple]]) -> str:
    return "\n".join(
        f"GRAPH {iri_ref(iri)} {{\n"
        + "\n".join(f"{iri_ref(s)} {iri_ref(p)} {nt_term(o)} ." for s, p, o in triples)
        + "\n}"
        for iri, triples in triples_by_graph.items()
        if triples
    )


def diff_request(
    removed: Mapping[str, Sequence[Triple]], added: Mapping[str, Sequence[Triple]]
) -> str:
    """One SPARQL Update request deleting ``removed`` and inserting ``added`` triples."""
    parts = []
    if any(removed.values()):
        parts.append("DELETE DATA {\n" + _graph_blocks(removed) + "\n}")
    if any(added.values()):
        parts.append("INSERT DATA {\n" + _graph_blocks(added) + "\n}")
    return " ;\n".join(parts)


# --------------------------------------------------------------------------- embedded store


def _open(path: Path) -> ox.Store:
    """pyoxigraph releases a store (and RocksDB's LOCK file) when the object is freed. A store
    of this directory that this process closed but that is still caught in a reference cycle
    (an iterator in a suspended generator or a traceback) is only freed when the collector
    runs: then opening it again fails with "lock hold by current process". Collect and retry
    once (a store another process holds still fails)."""
    try:
        return ox.Store(str(path))
    except OSError as error:
        if "lock hold by current process" not in str(error):
            raise
    gc.collect()
    return ox.Store(str(path))


class EmbeddedStore:
    """An on-disk (or, with ``path=None``, in-memory) pyoxigraph store."""

    def __init__(self, path: Path | None) -> None:
        if path is not None:
            path.mkdir(parents=True, exist_ok=True)
            self.store = _open(path)
        else:
            self.store = ox.Store()
        self.path = path

    def replace_graphs(self, graphs: Mapping[str, Sequence[Triple]]) -> None:
        """Replace graphs atomically (one update request), writing only what changed.

        A transactional write costs ~30 us per quad on this machine, and dropping a graph as
        much again, so the request deletes only the triples that go and inserts only those
        that come: an unchanged asset costs a read, an edited one a handful of quads.
        """
        if not graphs:
            return
        removed: dict[str, list[Triple]] = {}
        added: dict[str, list[Triple]] = {}
        for iri, triples in graphs.items():
            current = set(self.graph(iri))
            wanted = set(triples)
            if current - wanted:
                removed[iri] = list(current - wanted)
            if wanted - current:
                added[iri] = list(wanted - current)
        request = diff_request(removed, added)
        if request:
            self.store.update(request)

    def insert_new_graphs(self, graphs: Mapping[str, Sequence[Triple]]) -> None:
        """Write graphs that do not exist yet, with Oxigraph's bulk loader (~3x faster).

        Not transactional: the catalog only uses it for brand-new assets, which it journals
        and rolls back (drops) after a crash if their index rows were never committed.
        """
        # N-Quads text parsed by the loader in Rust: ~5x cheaper than building Quad objects
        data = "".join(
            f"{iri_ref(s)} {iri_ref(p)} {nt_term(o)} {iri_ref(iri)} .\n"
            for iri, triples in graphs.items()
            for s, p, o in triples
        )
        if data:
            self.store.bulk_load(data.encode(), format=ox.RdfFormat.N_QUADS)

    def insert_new_nquads(self, data: bytes) -> None:
        """``insert_new_graphs`` of graphs serialised already (a bulk import's workers)."""
        if data:
            self.store.bulk_load(data, format=ox.RdfFormat.N_QUADS)

    def delete_graphs(self, iris: Iterable[str]) -> None:
        present = [iri for iri in iris if self.store.contains_named_graph(ox.NamedNode(iri))]
        request = update_request({}, present)
        if request:
            self.store.update(request)

    def graph(self, iri: str) -> list[Triple]:
        return [
            (q.subject.value, q.predicate.value, from_ox(q.object))  # type: ignore[union-attr]
            for q in self.store.quads_for_pattern(None, None, None, ox.NamedNode(iri))
        ]

    def has_graph(self, iri: str) -> bool:
        return bool(self.store.contains_named_graph(ox.NamedNode(iri)))

    def graph_names(self) -> Iterator[str]:
        for name in self.store.named_graphs():
            if isinstance(name, ox.NamedNode):
                yield name.value

    def serialize(self, triples: Sequence[Triple], fmt: str) -> bytes:
        return serialize_triples(triples, fmt)

    def query(self, sparql: str, **kwargs: object) -> object:
        return self.store.query(sparql, **kwargs)  # type: ignore[arg-type]

    def flush(self) -> None:
        self.store.flush()

    def close(self) -> None:
        # pyoxigraph closes the store when the object is released (see ``_open``)
        del self.store
