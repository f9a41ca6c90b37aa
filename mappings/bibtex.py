"""A small, forgiving BibTeX reader for citations found in upstream metadata.

Upstream citations are often truncated or unbalanced; this reader takes every field it can
and never raises. Values lose their braces and extra whitespace.
"""

from __future__ import annotations

import re

_ENTRY_START = re.compile(r"@\s*([A-Za-z]+)\s*[{(]")
_FIELD = re.compile(r"\s*,?\s*([A-Za-z][A-Za-z0-9_\-:.]*)\s*=\s*")


def _braced(text: str, start: int) -> tuple[str, int]:
    """The content of ``{...}`` starting at ``text[start] == '{'`` (tolerates no close)."""
    depth = 0
    for position in range(start, len(text)):
        char = text[position]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : position], position + 1
    return text[start + 1 :], len(text)


def _value(text: str, position: int) -> tuple[str, int]:
    parts: list[str] = []
    while position < len(text):
        char = text[position]
        if char == "{":
            value, position = _braced(text, position)
        elif char == '"':
            end = position + 1
            depth = 0
            while end < len(text) and not (text[end] == '"' and depth == 0):
                depth += {"{": 1, "}": -1}.get(text[end], 0)
                end += 1
            value, position = text[position + 1 : end], end + 1
        else:
            match = re.match(r"[^,}#\s]+", text[position:])
            value = match.group(0) if match else ""
            position += len(value)
        parts.append(value)
        while position < len(text) and text[position].isspace():
            position += 1
        if position < len(text) and text[position] == "#":
            position += 1
            while position < len(text) and text[position].isspace():
                position += 1
            continue
        break
    return "".join(parts), position


def clean_value(value: str) -> str:
    value = value.replace("\\&", "&").replace("~", " ")
    value = re.sub(r"\\[a-zA-Z]+\s*", "", value) if "\\" in value else value
    return " ".join(value.replace("{", "").replace("}", "").split())


def parse(text: str) -> list[dict[str, str]]:
    """Entries as dicts with ``ENTRYTYPE``, ``ID`` and lower-cased field names."""
    entries: list[dict[str, str]] = []
    position = 0
    while True:
        match = _ENTRY_START.search(text, position)
        if match is None:
            return entries
        kind = match.group(1).lower()
        position = match.end()
        if kind in ("comment", "preamble", "string"):
            _, position = _braced(text, position - 1)
            continue
        key_match = re.match(r"\s*([^,\s{}()=]*)\s*,", text[position:])
        entry = {"ENTRYTYPE": kind, "ID": key_match.group(1) if key_match else ""}
        if key_match:
            position += key_match.end()
        while position < len(text):
            field = _FIELD.match(text, position)
            if field is None:
                break
            raw, position = _value(text, field.end())
            entry[field.group(1).lower()] = clean_value(raw)
        entries.append(entry)
        next_entry = text.find("@", position)
        position = next_entry if next_entry >= 0 else len(text)
