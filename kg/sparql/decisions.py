"""The policy decisions the query workers already made, remembered in the server process.

The policy's ``Decision`` for a text is a pure function of the exact text, the base IRI, the
allowed SERVICE/LOAD prefixes and whether the text is an update (``kg.sparql.policy``). Parsing
it with rdflib is most of a small query's cost (1-9 ms, against 0.1-0.5 ms to evaluate it), and
applications send the same texts again and again. So the server keeps the decisions its
workers sent back, keyed by all four, and sends a remembered decision with the next job for
the same key: the worker then skips the nesting check and rdflib and evaluates
``decision.text`` with Oxigraph -- still in the killable worker, still under the time limit,
still checking that the result's form is the decision's kind.

Nothing here reads the text: it is only a dictionary key (compared whole, never parsed or
abstracted). Only allowed decisions are remembered; a refused text is checked again every
time it is sent. Bounded: at most ``MAX_ENTRIES`` decisions, texts of at most ``MAX_TEXT``
characters, least recently used first out.

Why not a cache keyed by the text with its IRIs and literals abstracted (one decision per
"shape" of parametrised query)? Computing the shape means lexing caller text in the server
process, and the lexing must agree with SPARQL's (``<`` is both an IRI opener and less-than;
``\\u0022`` escapes expand before parsing; comments hide quotes) or a text could borrow the
decision of a differently shaped one. That cannot be shown safe cheaply, so it is not done.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict

from kg.sparql.policy import Decision

#: decisions kept at most
MAX_ENTRIES = 4096
#: longer texts are never remembered (characters)
MAX_TEXT = 16 * 1024

Key = tuple[str, str, tuple[str, ...], bool]


def key_of(text: str, base_iri: str, allowed: tuple[str, ...], update: bool) -> Key | None:
    """The cache key of a job, or None when the text is too long to be remembered."""
    if len(text) > MAX_TEXT:
        return None
    return (text, base_iri, tuple(allowed), bool(update))


class DecisionCache:
    """A bounded, thread-safe LRU map from a job's key to the decision a worker made."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Key, Decision] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0  # statistics, for tests and benchmarks
        self.misses = 0

    def get(self, key: Key | None) -> Decision | None:
        if key is None:
            return None
        with self._lock:
            decision = self._entries.get(key)
            if decision is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return decision

    def put(self, key: Key | None, decision: Decision) -> None:
        if key is None or self.max_entries <= 0:
            return
        if decision.text == key[0]:  # share the string (most texts need no normalising)
            decision = dataclasses.replace(decision, text=key[0])
        with self._lock:
            self._entries[key] = decision
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
