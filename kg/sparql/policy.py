"""The SPARQL policy, decided on the parsed query, never on its text: read-only (an update is
not a query), no SERVICE unless its IRI is allowed (``AIOD_KG_SPARQL_ALLOWED_SERVICES``; a
variable SERVICE only with ``*``), no LOAD unless allowed, the query's own dataset (``FROM``)
noticed so the endpoint's dataset rules apply.

pyoxigraph exposes no algebra, so the query is parsed by rdflib's SPARQL parser and translated
to its algebra, and the algebra is walked. Both parsers must read the *same* query:

* SPARQL 1.1 (19.2) expands ``\\uXXXX``/``\\U00XXXXXX`` over the whole text before parsing
  (rdflib does), Oxigraph only inside strings and IRIs -- so ``"a\\u0022" SERVICE <x> ...``
  hides the SERVICE from one of them. ``normalise`` performs the 19.2 pass once, and that one
  escape-free text is what rdflib checks *and* what the engine runs; a text whose expansion
  still contains an escape (``\\u005Cu0022``) is refused.
* the query form rdflib reads must be the one Oxigraph answers (checked by the caller);
* a query rdflib cannot read is refused (fail closed), never passed on.

This runs in the killable, memory-capped query workers (``kg.sparql.workers``): parsing
untrusted text is bounded in time and memory and a parser crash costs only one request.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pyparsing import ParseBaseException
from rdflib.plugins.sparql import algebra, parser
from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.term import URIRef, Variable

from kg.errors import Forbidden, ParseError
from kg.model.namespaces import PREFIXES
from kg.settings import Settings
from kg.sparql.formats import Kind

_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_FORMS: dict[str, Kind] = {
    "SelectQuery": "solutions",
    "AskQuery": "boolean",
    "ConstructQuery": "graph",
    "DescribeQuery": "graph",
}


class Unreadable(ParseError):
    """rdflib could not read the text (the caller may ask Oxigraph for a better message)."""


@dataclass(frozen=True)
class Decision:
    """What the policy found in an allowed query or update."""

    text: str  # the normalised text: what the engine must run
    kind: Kind | None  # None for an update
    has_dataset: bool = False  # FROM / FROM NAMED
    prefixes: tuple[str, ...] = ()  # prefixes the text declares itself
    remote: tuple[str, ...] = field(default_factory=tuple)  # allowed SERVICE/LOAD targets


def allowed_services(settings: Settings) -> tuple[str, ...]:
    return tuple(s.strip() for s in settings.sparql_allowed_services.split(",") if s.strip())


def normalise(text: str) -> str:
    """The text after SPARQL 1.1's codepoint-escape pass (19.2), which must be its own
    fixpoint: no escape may survive it (or be produced by it)."""

    def expand(match: re.Match[str]) -> str:
        code = int(match.group(1) or match.group(2), 16)
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise ParseError(f"Invalid codepoint escape {match.group()!r} in the query.")
        return chr(code)

    expanded = _ESCAPE.sub(expand, text)
    if expanded != text and _ESCAPE.search(expanded):
        raise ParseError("A codepoint escape in the query produces another escape; refused.")
    return expanded


def _nodes(value: Any) -> Iterator[CompValue]:
    """Every CompValue in a parse tree or algebra (iteratively: no recursion limit)."""
    stack, seen = [value], set()
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, CompValue):
            yield item
            stack.extend(item.values())
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set) or type(item).__name__ == "ParseResults":
            stack.extend(list(item))


def _remote_targets(tree: Any, prefixes: dict[str, str]) -> Iterator[tuple[str, Any]]:
    """SERVICE and LOAD targets; prefixed names (parse tree) resolved with ``prefixes``."""
    for node in _nodes(tree):
        if node.name == "ServiceGraphPattern":
            keyword, target = "SERVICE", dict.get(node, "term")
        elif node.name == "Load":
            keyword, target = "LOAD", dict.get(node, "iri")
        else:
            continue
        if isinstance(target, CompValue) and target.name == "pname":
            prefix = str(dict.get(target, "prefix") or "")
            local = str(dict.get(target, "localname") or "")
            target = URIRef(prefixes[prefix] + local) if prefix in prefixes else None
        yield keyword, target


def _check_remote(targets: list[tuple[str, Any]], allowed: tuple[str, ...]) -> tuple[str, ...]:
    ok: list[str] = []
    for keyword, target in targets:
        if "*" in allowed:
            ok.append(str(target))
            continue
        if isinstance(target, URIRef) and any(str(target).startswith(p) for p in allowed):
            ok.append(str(target))
            continue
        shown = "a variable" if isinstance(target, Variable) else str(target)
        raise Forbidden(
            f"{keyword} to {shown} is not allowed on this endpoint (allowed: "
            + (", ".join(allowed) or "none")
            + "; AIOD_KG_SPARQL_ALLOWED_SERVICES)."
        )
    return tuple(ok)


def _unreadable(exc: BaseException, what: str) -> Unreadable:
    if isinstance(exc, ParseBaseException):
        return Unreadable(f"Invalid SPARQL {what}: {exc.msg}", exc.lineno, exc.col)
    if isinstance(exc, RecursionError):
        return Unreadable(f"The SPARQL {what} nests too deeply to be checked.")
    message = str(exc)[:300]
    return Unreadable(f"Invalid SPARQL {what}: {message}")


def _declared(prologue: Any) -> dict[str, str]:
    return {
        str(dict.get(node, "prefix") or ""): str(dict.get(node, "iri") or "")
        for node in _nodes(prologue)
        if node.name == "PrefixDecl"
    }


def _decide(
    tree: Any, translated: Any, declared: dict[str, str], allowed: tuple[str, ...]
) -> tuple[str, ...]:
    """Every SERVICE/LOAD target of the parse tree *and* of the algebra must be allowed (so
    a clause one of them lost or rewrote is still checked)."""
    targets = list(_remote_targets(tree, {**PREFIXES, **declared}))
    targets += _remote_targets(translated, {})
    return _check_remote(targets, allowed)


def check_query(text: str, base: str, allowed: tuple[str, ...]) -> Decision:
    """Parse a query (never an update), decide the policy on its algebra."""
    normal = normalise(text)
    try:
        tree = parser.parseQuery(normal)
        translated = algebra.translateQuery(tree, base=base, initNs=PREFIXES)
    except Exception as exc:  # pyparsing, rdflib's own errors, RecursionError
        raise _unreadable(exc, "query") from None
    prologue, body = tree[0], tree[1]
    kind = _FORMS.get(str(body.name))
    if kind is None:  # pragma: no cover - parseQuery only yields the four forms
        raise ParseError("Only SELECT, ASK, CONSTRUCT and DESCRIBE are queries.")
    declared = _declared(prologue)
    remote = _decide(tree, translated.algebra, declared, allowed)
    has_dataset = bool(dict.get(body, "datasetClause"))
    return Decision(normal, kind, has_dataset, tuple(declared), remote)


def check_update(text: str, base: str, allowed: tuple[str, ...]) -> Decision:
    """Parse an update, decide the policy (SERVICE/LOAD targets) on its algebra."""
    normal = normalise(text)
    try:
        tree = parser.parseUpdate(normal)
        translated = algebra.translateUpdate(tree, base=base, initNs=PREFIXES)
    except Exception as exc:
        raise _unreadable(exc, "update") from None
    declared = _declared(dict.get(tree, "prologue"))
    # an empty update (no operation) translates to an empty list rather than an Update
    operations = getattr(translated, "algebra", translated)
    remote = _decide(tree, operations, declared, allowed)
    return Decision(normal, None, False, tuple(declared), remote)
