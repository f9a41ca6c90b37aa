"""The linker: keeps the link index in step with the catalog (its change events, in a
background thread; ``reconcile`` on open) and derives, for every public asset, the named graph
``{base}/links/{identifier}`` in the public store: the typed relations its claimed links
resolve to (``fair4ml:trainedOn``, ``prov:wasDerivedFrom``, ``dct:isReferencedBy``,
``dct:relation``, ... to the catalog's asset IRI) and ``schema:sameAs`` to the same work on
other platforms, each with its evidence (an ``rdf:Statement`` whose ``dct:description`` says why).

One source of truth: what a record claims is in its own graph (the link fields); resolution
is derived, so a claim whose target is not in the catalog yet stays pending (``pending``)
and resolves when the target arrives (its keys then match the claim's key).
Same work: a shared strong key (DOI, arXiv id, canonical URL), a dataset derived from a
dataset of another platform, or a duplicate a moderator confirmed. Likely duplicates without
a strong key are proposed with a score (``kg.linking.similarity``), never linked unconfirmed.

Changes are followed in batches (``follow``): what queued while the previous batch was followed
(up to ``BATCH``), or a page of ``reconcile``, goes through one link index transaction that
the followers' rows join, with one store write per kind of derived graph before it commits.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import orjson

from kg.linking.extract import features, normalise_name
from kg.linking.index import LinkIndex
from kg.linking.similarity import CONFLICT_FACTOR, Candidate, conflict, name_bound, score
from kg.model.fields import ASSET_TYPES
from kg.model.namespaces import PROV, RDF_TYPE, SCHEMA
from kg.model.rdf_mapping import IRI, Lit, Triple
from kg.store.partition import is_public_status

if TYPE_CHECKING:
    from kg.catalog import Catalog, ChangeEvent

log = logging.getLogger("kg.linking")
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
SAME_AS = SCHEMA + "sameAs"
DCT_DESCRIPTION = "http://purl.org/dc/terms/description"  # a link's evidence
PROPOSE_AT = 0.85  # proposed duplicates: score threshold (bench/linking.py)
STRONG_DERIVED = ("is_derived_from",)
BATCH = 128  # queued changes followed together (one index transaction, one store write each)
LINGER = 0.05  # seconds a batch waits for more changes (derived graphs follow that much later)
# from this many assets in a batch, their candidates are blocked together (holders read once,
# counted in memory); fewer are counted in the database one by one
BLOCK_TOGETHER = 8
RECONCILE_BATCH = 256  # assets read (document cache) and followed together by ``reconcile``


class Change(NamedTuple):
    """One asset to follow: its AIoD JSON, or ``data`` None when it is gone (deleted, or not
    for this follower: a draft for those that follow public assets only)."""

    collection: str
    identifier: str
    data: dict[str, Any] | None


class Follower(Protocol):
    """What else follows the catalog with the linker (kg.quality's book, kg.enrichment's):
    the public assets, or every asset when the follower's ``everything`` is true (it then
    keeps what it derives from a draft as private as the draft). ``follow`` takes a batch
    (at most one change per asset), inside the link index's open transaction: the rows it
    writes there commit with the linker's, after its derived graphs are in the store."""

    def follow(self, changes: Sequence[tuple[str, str, dict[str, Any] | None]]) -> object: ...

    def modified(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class SameWork:
    identifier: str
    evidence: str
    kind: str  # strong | derived | confirmed


def _everything(follower: Follower) -> bool:
    return bool(getattr(follower, "everything", False))


def _visible(change: Change, everything: bool) -> bool:
    """Whether a follower sees the asset: present, and public unless it follows everything."""
    if change.data is None:
        return False
    return everything or is_public_status(
        (change.data.get("aiod_entry") or {}).get("status", "published")
    )


def _withdraws(event: ChangeEvent | None) -> bool:
    """Whether a change takes an asset out of the public catalog (deleted, or now a draft,
    restricted, ...): the derived graphs of public assets must follow it without delay."""
    if event is None or event.kind == "delete" or event.asset is None:
        return True
    return not is_public_status((event.asset.get("aiod_entry") or {}).get("status", "published"))


class Linker:
    def __init__(self, index: LinkIndex, base_url: str, catalog: Catalog | None = None) -> None:
        self.index = index
        self.base_url = base_url
        self.catalog = catalog
        self._queue: queue.Queue[ChangeEvent | None] = queue.Queue()
        self._idle = threading.Condition()
        self._pending = 0
        self._worker: threading.Thread | None = None
        self._closed = False
        self.followers: list[Follower] = []

    # ------------------------------------------------------------------ updates

    def update(self, collection: str, identifier: str, data: dict[str, Any]) -> set[str]:
        """Index one asset (AIoD JSON); the identifiers whose derived links may change."""
        status = (data.get("aiod_entry") or {}).get("status", "published")
        if not is_public_status(status):
            return self.remove(identifier)
        before = self._neighbours(identifier)
        found = features(ASSET_TYPES[collection], identifier, data)
        modified = str((data.get("aiod_entry") or {}).get("date_modified") or "")
        self.index.put(found, modified)
        if collection != "persons":
            self.propose(identifier)
        return {identifier} | before | self._neighbours(identifier)

    def remove(self, identifier: str) -> set[str]:
        before = self._neighbours(identifier)
        self.index.remove(identifier)
        return {identifier} | before

    def _neighbours(self, identifier: str) -> set[str]:
        keys = self.index.keys(identifier)
        out = {i for _, i in self.index.holders(keys)}
        out |= {i for i, _ in self.index.claimants(keys)}
        out |= {i for _, i in self.index.holders([c.key for c in self.index.claims(identifier)])}
        out |= {s.identifier for s in self.same_work(identifier)}
        out.discard(identifier)
        return out

    # ------------------------------------------------------------------ reads

    def resolved(self, identifier: str) -> list[tuple[str, str, str]]:
        """``(predicate, target identifier, stated IRI)`` of the claims that resolve."""
        claims = self.index.claims(identifier)
        holders: dict[str, list[str]] = {}
        for key, holder in self.index.holders([c.key for c in claims]):
            holders.setdefault(key, []).append(holder)
        out = []
        for claim in claims:
            for holder in holders.get(claim.key, []):
                if holder != identifier:
                    out.append((claim.predicate, holder, claim.target))
        return sorted(set(out))

    def pending(self, identifier: str) -> list[tuple[str, str]]:
        """``(field, stated IRI)`` of the claims no asset in the catalog answers yet."""
        claims = self.index.claims(identifier)
        known = {k for k, _ in self.index.holders([c.key for c in claims])}
        return sorted({(c.field, c.target) for c in claims if c.key not in known})

    def same_work(self, identifier: str) -> list[SameWork]:
        """Other records of the same work (one hop), with the evidence."""
        me = self.index.asset(identifier)
        if me is None:
            return []
        found: dict[str, SameWork] = {}
        for key, other in self.index.holders(self.index.keys(identifier)):
            if other != identifier:
                found.setdefault(other, SameWork(other, key, "strong"))
        if me[0] == "datasets":
            claims = [c for c in self.index.claims(identifier) if c.field in STRONG_DERIVED]
            for key, other in self.index.holders([c.key for c in claims]):
                if self._other_platform_dataset(me, other):
                    found.setdefault(other, SameWork(other, f"is_derived_from {key}", "derived"))
            for other, claim in self.index.claimants(self.index.keys(identifier)):
                if claim.field in STRONG_DERIVED and self._other_platform_dataset(me, other):
                    found.setdefault(
                        other, SameWork(other, f"is_derived_from {claim.key}", "derived")
                    )
        for row in self.index.query(
            "SELECT a, b, score FROM duplicates WHERE status = 'confirmed' AND (a = ? OR b = ?)",
            [identifier, identifier],
        ):
            other = str(row[1] if row[0] == identifier else row[0])
            found.setdefault(
                other, SameWork(other, f"confirmed duplicate (score {row[2]})", "confirmed")
            )
        return sorted(found.values(), key=lambda s: s.identifier)

    def _other_platform_dataset(self, me: tuple[str, str, str], other: str) -> bool:
        theirs = self.index.asset(other)
        return theirs is not None and theirs[0] == "datasets" and theirs[1] != me[1]

    def work(self, identifier: str, limit: int = 50) -> list[str]:
        """Every record of the work ``identifier`` belongs to (the connected component), sorted."""
        seen = {identifier}
        frontier = [identifier]
        while frontier and len(seen) < limit:
            nxt = []
            for current in frontier:
                for other in self.same_work(current):
                    if other.identifier not in seen:
                        seen.add(other.identifier)
                        nxt.append(other.identifier)
            frontier = nxt
        return sorted(seen)

    def others(self, identifier: str) -> list[dict[str, str]]:
        """The other records of ``identifier``'s work: identifier, type, platform and name."""
        out = []
        for other in self.work(identifier):
            found = self.index.asset(other) if other != identifier else None
            if found is not None:
                out.append(
                    {"identifier": other, "type": found[0], "platform": found[1], "name": found[2]}
                )
        return out

    # ------------------------------------------------------------------ duplicates

    def _candidate(self, identifier: str) -> Candidate | None:
        found = self.index.features(identifier)
        if found is None:
            return None
        name, description, creators, files = found
        names = self.index.names(creators)
        return Candidate(
            identifier,
            name,
            description,
            frozenset(normalise_name(names.get(c, c)) for c in creators),
            frozenset(files),
        )

    def propose(self, identifier: str, blocked: list[tuple[str, str]] | None = None) -> int:
        """Score the likely duplicates of ``identifier`` (``blocked``: its candidates, when
        ``LinkIndex.candidates_many`` found them); store those above ``PROPOSE_AT``."""
        me = self.index.asset(identifier)
        mine = self._candidate(identifier)
        if me is None or mine is None:
            return 0
        strong = {s.identifier for s in self.same_work(identifier)}
        if blocked is None:
            blocked = self.index.candidates(identifier, me[0], me[2])
        proposed = 0
        with self.index.transaction() as db:
            for other, other_name in blocked:
                # most blocked candidates cannot reach the threshold on their names alone
                # (names in conflict cannot: checked first, it is cheaper)
                if (
                    other in strong
                    or (CONFLICT_FACTOR < PROPOSE_AT and conflict(mine.name, other_name))
                    or name_bound(mine.name, other_name) < PROPOSE_AT - 1e-4
                ):
                    continue
                theirs = self._candidate(other)
                if theirs is None:
                    continue
                value, parts = score(mine, theirs)
                if value < PROPOSE_AT:
                    continue
                a, b = sorted((identifier, other))
                db.execute(
                    "INSERT INTO duplicates (a, b, type, score, evidence, status) "
                    "VALUES (?, ?, ?, ?, ?, 'proposed') ON CONFLICT (a, b) DO UPDATE SET "
                    "score = excluded.score, evidence = excluded.evidence",
                    (a, b, me[0], value, orjson.dumps(parts)),
                )
                proposed += 1
        return proposed

    def duplicates(
        self,
        status: str | None = "proposed",
        limit: int = 100,
        offset: int = 0,
        types: Iterable[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Proposals (``status`` None: every decision too) between records that are both
        still public (indexed), best score first; ``types``: only these asset types."""
        sql = (
            "SELECT id, a, b, type, score, evidence, status, decided_by, decided_at FROM duplicates"
            " WHERE a IN (SELECT identifier FROM assets) AND b IN (SELECT identifier FROM assets)"
        )
        params: list[object] = []
        if status:
            sql += " AND status = ?"
            params.append(status)
        if types is not None:
            wanted = sorted(set(types))
            sql += f" AND type IN ({','.join('?' * len(wanted))})"
            params.extend(wanted)
        sql += " ORDER BY score DESC, id LIMIT ? OFFSET ?"
        rows = self.index.query(sql, [*params, limit, offset])
        names = self.index.names([str(r[1]) for r in rows] + [str(r[2]) for r in rows])
        return [
            {
                "id": r[0],
                "type": r[3],
                "identifiers": [r[1], r[2]],
                "names": [names.get(str(r[1])), names.get(str(r[2]))],
                "score": r[4],
                "evidence": orjson.loads(r[5]),  # type: ignore[arg-type]
                "status": r[6],
                "decided_by": r[7],
                "decided_at": r[8],
            }
            for r in rows
        ]

    def duplicate_type(self, duplicate_id: int) -> str | None:
        rows = self.index.query("SELECT type FROM duplicates WHERE id = ?", [duplicate_id])
        return str(rows[0][0]) if rows else None

    def decide(self, duplicate_id: int, status: str, by: str, at: str) -> dict[str, Any] | None:
        """Confirm or reject a proposal; the derived graphs of both records follow."""
        rows = self.index.query("SELECT a, b, type FROM duplicates WHERE id = ?", [duplicate_id])
        if not rows or any(self.index.asset(str(i)) is None for i in rows[0][:2]):
            return None  # unknown, or one of the records is no longer public
        with self.index.transaction() as db:
            db.execute(
                "UPDATE duplicates SET status = ?, decided_by = ?, decided_at = ? WHERE id = ?",
                (status, by, at, duplicate_id),
            )
        self.write({str(rows[0][0]), str(rows[0][1])})
        found = self.index.query("SELECT status FROM duplicates WHERE id = ?", [duplicate_id])
        return {
            "id": duplicate_id,
            "type": rows[0][2],
            "identifiers": [rows[0][0], rows[0][1]],
            "status": found[0][0],
        }

    # ------------------------------------------------------------------ triples

    def iri(self, identifier: str) -> str | None:
        found = self.index.asset(identifier)
        return f"{self.base_url}/{found[0]}/{identifier}" if found else None

    def graph_iri(self, identifier: str) -> str:
        return f"{self.base_url}/links/{identifier}"

    def triples(self, identifier: str) -> list[Triple]:
        me = self.iri(identifier)
        if me is None:
            return []
        graph = self.graph_iri(identifier)
        out: list[Triple] = [(graph, PROV + "wasGeneratedBy", IRI(f"{self.base_url}/links"))]
        links = [(p, t, stated) for p, t, stated in self.resolved(identifier)]
        links += [
            (SAME_AS, s.identifier, f"{s.kind}: {s.evidence}") for s in self.same_work(identifier)
        ]
        for n, (predicate, target, evidence) in enumerate(links):
            other = self.iri(target)
            if other is None:
                continue
            statement = f"{graph}#link-{n}"
            out += [
                (me, predicate, IRI(other)),
                (statement, RDF_TYPE, IRI(RDF + "Statement")),
                (statement, RDF + "subject", IRI(me)),
                (statement, RDF + "predicate", IRI(predicate)),
                (statement, RDF + "object", IRI(other)),
                (statement, DCT_DESCRIPTION, Lit(evidence, XSD_STRING)),
            ]
        return out if len(out) > 1 else []

    def write(self, identifiers: Iterable[str]) -> None:
        """Replace the derived link graphs of ``identifiers`` in the catalog's public store."""
        if self.catalog is None:
            return
        replace, drop = {}, []
        for identifier in identifiers:
            triples = self.triples(identifier)
            if triples:
                replace[self.graph_iri(identifier)] = triples
            else:
                drop.append(self.graph_iri(identifier))
        if replace:
            self.catalog.store.replace_graphs(replace)
        # most assets have no links: only drop what is there (no store write otherwise)
        drop = [iri for iri in drop if self.catalog.store.has_graph(iri)]
        if drop:
            self.catalog.store.delete_graphs(drop)

    # ------------------------------------------------------------------ following the catalog

    def attach(self, catalog: Catalog) -> None:
        self.catalog = catalog
        catalog.subscribe(self._on_change)
        with self._idle:
            self._pending += 1
        self._queue.put(None)  # the reconcile, first
        self._worker = threading.Thread(target=self._run, name="linker", daemon=True)
        self._worker.start()

    def _on_change(self, event: ChangeEvent) -> None:
        if self._closed:
            return
        with self._idle:
            self._pending += 1
        self._queue.put(event)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            # what queued meanwhile is followed with it, and what comes within LINGER: the
            # requests that write one asset each come in bursts a little apart. An asset that
            # leaves the public catalog does not wait: its derived graphs go at once.
            until = time.monotonic() + LINGER
            while len(batch) < BATCH and not self._closed and not _withdraws(batch[-1]):
                try:
                    batch.append(self._queue.get(timeout=max(0.0, until - time.monotonic())))
                except queue.Empty:
                    break
            while len(batch) < BATCH and not self._closed:  # what is queued already
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if self._closed:
                self.index.close()  # this thread's connection
                return
            try:
                self._follow_events(batch)
            except Exception:
                log.exception("linking failed")
            finally:
                with self._idle:
                    self._pending -= len(batch)
                    self._idle.notify_all()

    def _follow_events(self, batch: list[ChangeEvent | None]) -> None:
        """Follow queued events in order; ``None`` is the reconcile (first after attach)."""
        changes: dict[str, Change] = {}
        for event in batch:
            if event is None:
                self.follow(list(changes.values()))
                changes.clear()
                self.reconcile()
                continue
            data = None if event.kind == "delete" else event.asset
            changes.pop(event.identifier, None)  # the last change of an asset is its state
            changes[event.identifier] = Change(event.asset_type.collection, event.identifier, data)
        self.follow(list(changes.values()))

    def follow(
        self,
        changes: Sequence[Change],
        link: bool = True,
        followers: Sequence[Sequence[Change]] | None = None,
    ) -> None:
        """Follow a batch of changes (at most one per asset) in one link index transaction:
        the link rows, the duplicate proposals and the followers' rows commit together, after
        the derived graphs are written (one store write per kind of graph). A crash before the
        commit leaves the index as it was, so ``reconcile`` follows the batch again.
        ``link`` False: the link index is up to date; ``followers``: each follower's own
        changes (default: every change, a draft as gone to those following public assets)."""
        if not changes and not followers:
            return
        if followers is None:
            followers = [
                [c if _visible(c, _everything(f)) else c._replace(data=None) for c in changes]
                for f in self.followers
            ]
        with self.index.transaction():
            if link and changes:
                self.write(self._link(changes))
            for follower, mine in zip(self.followers, followers, strict=True):
                if mine:
                    follower.follow(mine)

    def _link(self, changes: Sequence[Change]) -> set[str]:
        """``update`` / ``remove`` for a batch, the proposals' blocking done once for all;
        the identifiers whose derived links may change."""
        touched: set[str] = set()
        indexed: list[tuple[Change, str]] = []  # with the name
        # assets new to the index (a node's first push, a harvest) have no neighbours yet and
        # no rows to drop: one query for the batch instead of four per asset
        known = self.index.indexed([c.identifier for c in changes])
        for change in changes:
            if not _visible(change, False):
                touched |= self.remove(change.identifier)
                continue
            assert change.data is not None
            fresh = change.identifier not in known
            touched.add(change.identifier)
            if not fresh:
                touched |= self._neighbours(change.identifier)
            entry = change.data.get("aiod_entry") or {}
            found = features(ASSET_TYPES[change.collection], change.identifier, change.data)
            self.index.put(found, str(entry.get("date_modified") or ""), fresh=fresh)
            indexed.append((change, found.name))
        named = [(c.identifier, c.collection, name) for c, name in indexed]
        named = [n for n in named if n[1] != "persons"]
        if len(named) >= BLOCK_TOGETHER:
            for identifier, candidates in self.index.candidates_many(named).items():
                self.propose(identifier, candidates)
        else:  # counted in the database, per asset: cheaper for a few
            for identifier, _, _ in named:
                self.propose(identifier)
        for change, _ in indexed:
            touched |= self._neighbours(change.identifier)
        return touched

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait until the changes seen so far are followed (by the followers with a thread of
        their own too)."""
        with self._idle:
            done = self._idle.wait_for(lambda: self._pending <= 0, timeout)
        for follower in self.followers:
            wait = getattr(follower, "flush", None)
            if done and wait is not None:
                done = bool(wait(timeout))
        return done

    def reconcile(self, batch: int = RECONCILE_BATCH) -> int:
        """Index what changed in the catalog while nobody followed it; drop what is gone.
        The catalogue index says what changed (its modification dates against the link
        index's and each follower's); the changed assets are read ``batch`` at a time from its
        document cache and followed as one batch each. How many assets the link index took
        or dropped."""
        if self.catalog is None:
            return 0
        known = self.index.modified()
        followed = [(f, f.modified()) for f in self.followers]
        live: set[str] = set()
        every: set[str] = set()  # every asset, for the followers of everything
        todo: list[tuple[str, str, bool, bool, list[bool]]] = []
        changed = 0
        for identifier, type_, modified, status in self.catalog.index.modified():
            public = is_public_status(status)
            every.add(identifier)
            if public:
                live.add(identifier)
            link = public and known.get(identifier) != modified
            stale = [
                (public or _everything(f)) and seen.get(identifier) != modified
                for f, seen in followed
            ]
            if link or any(stale):
                todo.append((identifier, type_, public, link, stale))
                changed += link
            if len(todo) >= batch:
                self._catch_up(todo)
                todo.clear()
        self._catch_up(todo)
        gone = sorted(set(known) - live)
        changed += len(gone)
        dropped = [sorted(set(seen) - (every if _everything(f) else live)) for f, seen in followed]
        longest = max([len(gone), *(len(d) for d in dropped)])
        for start in range(0, longest, batch):
            end = start + batch
            self.follow(
                [Change("", i, None) for i in gone[start:end]],
                followers=[[Change("", i, None) for i in d[start:end]] for d in dropped],
            )
        return changed

    def _catch_up(self, todo: list[tuple[str, str, bool, bool, list[bool]]]) -> None:
        """Follow one batch of ``reconcile``: the documents in one read of the cache."""
        if not todo or self.catalog is None:
            return
        cached = self.catalog.index.documents([t[0] for t in todo])
        changes: list[tuple[Change, bool, list[bool]]] = []
        for identifier, type_, _, link, stale in todo:
            document = cached.get(identifier)
            try:
                data = (
                    orjson.loads(document)
                    if document is not None
                    else self.catalog.get(ASSET_TYPES[type_], identifier)
                )
            except Exception:  # gone since it was listed: its delete event follows it
                log.warning("reconcile: %s could not be read", identifier)
                continue
            changes.append((Change(type_, identifier, data), link, stale))
        self.follow(
            [c for c, link, _ in changes if link],
            followers=[
                [c for c, _, stale in changes if stale[n]] for n in range(len(self.followers))
            ],
        )

    def close(self) -> None:
        """Stop following the catalog (what is queued is dropped: ``reconcile`` catches up on
        the next start) and close the index."""
        self._closed = True
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=10)
        for follower in self.followers:
            stop = getattr(follower, "close", None)
            if stop is not None:
                stop()
        self.index.close()
