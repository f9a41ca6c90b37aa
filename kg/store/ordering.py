"""The orders a list of the catalogue index can be walked in (``?sort=name|date_modified|
date_created|identifier&direction=asc|desc``): the ORDER BY of each and the index that walks it,
so that a page costs the same at any catalogue size (no sort step), on SQLite and PostgreSQL."""

from __future__ import annotations

SORT_COLUMNS: dict[str, str] = {
    "identifier": "identifier",
    "name": "name COLLATE NOCASE",
    "date_modified": "date_modified",
    "date_created": "date_created",
}
# PostgreSQL orders names as SQLite's NOCASE does: ASCII letters folded (lower() under the "C"
# collation folds nothing else), then by code point; missing names first when ascending.
_PG_NAME = 'lower(name COLLATE "C")'
ORDER_INDEXES = """
CREATE INDEX IF NOT EXISTS assets_type_identifier ON assets (type, deleted, identifier);
CREATE INDEX IF NOT EXISTS assets_type_created ON assets (type, deleted, date_created, seq);
CREATE INDEX IF NOT EXISTS assets_type_modified_seq ON assets (type, deleted, date_modified, seq);
CREATE INDEX IF NOT EXISTS assets_modified_seq ON assets (date_modified, seq, type, platform);
"""
NAME_INDEX = {
    "sqlite": "CREATE INDEX IF NOT EXISTS assets_type_name"
    " ON assets (type, deleted, name COLLATE NOCASE, seq)",
    "postgresql": "CREATE INDEX IF NOT EXISTS assets_type_name"
    f" ON assets (type, deleted, ({_PG_NAME}) NULLS FIRST, seq)",
}
# The sort key of ?sort=name, read from the cached document (a generated column on both; on
# PostgreSQL through a function declared immutable: the database's encoding never changes).
NAME_COLUMN = {
    "sqlite": "ALTER TABLE assets ADD COLUMN name TEXT GENERATED ALWAYS AS"
    " (json_extract(CAST(document AS TEXT), '$.name')) VIRTUAL",
    "postgresql": "CREATE OR REPLACE FUNCTION asset_name(document BYTEA) RETURNS TEXT"
    " LANGUAGE sql IMMUTABLE PARALLEL SAFE"
    " AS $$ SELECT convert_from(document, 'UTF8')::jsonb ->> 'name' $$;"
    " ALTER TABLE assets ADD COLUMN IF NOT EXISTS name TEXT"
    " GENERATED ALWAYS AS (asset_name(document)) STORED",
}


def order_by(sort: str | None, descending: bool = False, dialect: str = "sqlite") -> str:
    """The ORDER BY clause of one sort order (ties broken by insertion); KeyError if unknown."""
    if sort is None:
        return "seq DESC" if descending else "seq"
    way = " DESC" if descending else ""
    column = SORT_COLUMNS[sort]
    if sort == "identifier":
        return f"{column}{way}"
    if sort == "name" and dialect == "postgresql":
        return f"{_PG_NAME}{way} NULLS {'LAST' if descending else 'FIRST'}, seq{way}"
    return f"{column}{way}, seq{way}"
