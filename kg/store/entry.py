"""One row of the catalogue index (``kg.store.index``) as Python sees it: ``Entry``, and the
columns a row is read with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Entry:
    """One row of the index."""

    identifier: str
    type: str
    platform: str | None
    platform_resource_identifier: str | None
    status: str | None
    date_created: str
    date_modified: str
    deleted: bool = False
    # The asset's AIoD JSON (UTF-8), derived from its graph at write time: GET and list
    # answer from it without reading and converting the graph. NULL means "read the store".
    document: bytes | None = field(default=None, repr=False, compare=False)


COLUMNS = (
    "identifier, type, platform, platform_resource_identifier, status, date_created, "
    "date_modified, deleted"
)


def entry_of(row: Sequence[object]) -> Entry:
    document = row[8] if len(row) > 8 else None
    return Entry(
        str(row[0]),
        str(row[1]),
        row[2] if row[2] is None else str(row[2]),
        row[3] if row[3] is None else str(row[3]),
        row[4] if row[4] is None else str(row[4]),
        str(row[5]),
        str(row[6]),
        bool(row[7]),
        bytes(document) if isinstance(document, (bytes, bytearray, memoryview)) else None,
    )
