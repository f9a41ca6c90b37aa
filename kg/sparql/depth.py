"""A guard against deeply nested SPARQL: pyoxigraph's recursive-descent parser overflows its
stack (SIGSEGV: the whole server process dies) on a few thousand nested groups, so the
nesting depth of ``{ ( [`` is measured here first, skipping string literals, IRIs and
comments, and queries past ``MAX_DEPTH`` are refused as syntax errors."""

from __future__ import annotations

from kg.errors import ParseError

MAX_DEPTH = 200
_OPEN, _CLOSE = "{([", "})]"
_NOT_IN_IRI = set('<>"{}|^`\\ \t\r\n')


def check_nesting(text: str, limit: int = MAX_DEPTH) -> None:
    """Raise ParseError when brackets nest deeper than ``limit``."""
    depth = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in _OPEN:
            depth += 1
            if depth > limit:
                line = text.count("\n", 0, i) + 1
                raise ParseError(
                    f"The query nests groups, lists or brackets more than {limit} deep.", line
                )
        elif c in _CLOSE:
            depth = max(0, depth - 1)
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c == "<":
            j = i + 1
            while j < n and text[j] not in _NOT_IN_IRI:
                j += 1
            if j < n and text[j] == ">":  # an IRI (not the less-than operator): skip it
                i = j + 1
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
