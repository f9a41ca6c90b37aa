"""The items of a harvested batch in write order: one item per asset key (a primary record
wins over the same key met as a reference), each written after every item it refers to, and
references filled in with the identifiers of the items written before."""

from __future__ import annotations

from collections import defaultdict

from kg.harvest.contract import JSON, Item, Key
from kg.model.fields import ASSET_TYPES


def _depth(item: Item, memo: dict[int, int]) -> int:
    if id(item) in memo:
        return memo[id(item)]
    memo[id(item)] = 0  # guards against reference cycles
    value = 1 + max((_depth(r, memo) for refs in item.refs.values() for r in refs), default=-1)
    memo[id(item)] = value
    return value


def flatten(
    primaries: list[tuple[str, Item]],
) -> tuple[dict[Key, Item], dict[Key, str], dict[Key, int]]:
    """Unique items by key, the report label of each, and their write order (depth)."""
    items: dict[Key, Item] = {}
    labels: dict[Key, str] = {}
    depth: dict[Key, int] = {}
    memo: dict[int, int] = {}
    visited: set[int] = set()

    def visit(item: Item, label: str) -> None:
        if id(item) in visited:
            return
        visited.add(id(item))
        key = item.key
        if key not in items:
            items[key] = item
            labels[key] = label
        depth[key] = max(depth.get(key, 0), _depth(item, memo))
        for refs in item.refs.values():
            for ref in refs:
                visit(ref, f"{label} -> {ref.key}")

    for entry_id, item in primaries:
        items[item.key] = item  # a primary record wins over the same key met as a reference
        labels[item.key] = entry_id
    for entry_id, item in primaries:
        visit(item, entry_id)
    # A key met several times (a listed organisation with members, and the same
    # organisation as a dataset's funder without them) is written after everything any
    # of its occurrences refers to, and before whatever refers to it.
    children: dict[Key, set[Key]] = defaultdict(set)
    for key, item in items.items():
        children[key].update(r.key for refs in item.refs.values() for r in refs)
    by_key: dict[Key, int] = {}

    def key_depth(key: Key) -> int:
        if key not in by_key:
            by_key[key] = 0  # guards against reference cycles
            by_key[key] = 1 + max((key_depth(c) for c in children[key]), default=-1)
        return by_key[key]

    depth = {key: max(value, key_depth(key)) for key, value in depth.items()}
    return items, labels, depth


def resolved(item: Item, identifiers: dict[Key, str]) -> JSON:
    """The item's record with its references replaced by the identifiers found for them."""
    record = dict(item.record)
    asset = ASSET_TYPES[item.asset]
    for name, refs in item.refs.items():
        found = [identifiers[r.key] for r in refs if r.key in identifiers]
        found = list(dict.fromkeys(found))
        fld = asset.by_name.get(name)
        if fld is not None and not fld.many:
            record[name] = found[0] if found else None
        else:
            record[name] = found
    return record
