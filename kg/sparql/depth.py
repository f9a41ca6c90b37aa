"""A first guard against deeply nested SPARQL: pyoxigraph's recursive-descent parser overflows
its stack on a few thousand nested groups, so the nesting depth of ``{ ( [`` is measured first,
skipping string literals, IRIs and comments, and queries past ``MAX_DEPTH`` are refused.

``<`` is ambiguous without a parser (an IRIREF or the less-than operator: ``1<((((1))))>2``
has an IRIREF-shaped run), so the text is measured twice -- once reading IRIREF-shaped runs
(SPARQL grammar: no ``<>"{}|^`\\``, no characters up to space) as IRIs unless they hold
brackets or quotes, once reading every ``<`` as an operator -- and the deeper count counts.
This is a heuristic; the boundary is the query worker (``kg.sparql.workers``), where a parser
crash or a runaway costs only that request."""

from __future__ import annotations

from kg.errors import ParseError

MAX_DEPTH = 200
_OPEN, _CLOSE = "{([", "})]"
_NOT_IN_IRI = frozenset('<>"{}|^`\\') | frozenset(chr(c) for c in range(0x21))
_SUSPECT_IN_IRI = frozenset("()[]'")


def _measure(text: str, limit: int, iris: bool) -> int | None:
    """The offset where nesting passes ``limit``, or None."""
    depth = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in _OPEN:
            depth += 1
            if depth > limit:
                return i
        elif c in _CLOSE:
            depth = max(0, depth - 1)
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c == "<" and iris:
            j = i + 1
            while j < n and text[j] not in _NOT_IN_IRI:
                j += 1
            if j < n and text[j] == ">" and not _SUSPECT_IN_IRI.intersection(text[i + 1 : j]):
                i = j + 1  # an IRI: skip it
                continue
        elif c in "\"'":
            quote = text[i : i + 3] if text[i : i + 3] in ('"""', "'''") else c
            j = i + len(quote)
            while j < n:
                if text[j] == "\\":
                    j += 2
                    continue
                if text.startswith(quote, j):
                    break
                j += 1
            i = j + len(quote)
            continue
        i += 1
    return None


def check_nesting(text: str, limit: int = MAX_DEPTH) -> None:
    """Raise ParseError when brackets nest deeper than ``limit`` (under either reading)."""
    for iris in (True, False):
        at = _measure(text, limit, iris)
        if at is not None:
            line = text.count("\n", 0, at) + 1
            raise ParseError(
                f"The query nests groups, lists or brackets more than {limit} deep.", line
            )
