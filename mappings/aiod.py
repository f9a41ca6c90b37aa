"""The universal connector: harvests any AIoD REST API v2 (the official AIoD API or another
aiod-kg), so a node, or any aiod-kg, can mirror a central catalogue.

Listing: every asset type, ``GET {base}/{collection}?offset=&limit=`` (plus
``date_modified_after`` on incremental runs), page by page until a page comes back short; a
collection the upstream does not serve (404) is skipped. Agents (persons, organisations,
contacts, teams) are listed first, so a later record's references are usually already in
hand; a reference not seen yet is fetched once (``GET {base}/{collection}/{identifier}``) and
cached for the run. The cursor is (collection, offset): a resumed run continues there.

Mapping: the AIoD JSON is already aiod-kg's input format; it goes through the same field
table (fields aiod-kg does not know and server-set values are dropped, references become
related items the engine writes first). Identity: a record that came to the upstream from
another platform (``platform`` other than ``aiod``) keeps its ``(platform,
platform_resource_identifier)``, so the same asset reached through two routes is one asset;
a record native to the upstream gets the connector's platform name (default ``aiod``) and
the upstream identifier. Records of ``own_platform`` (a node's own assets coming back from
its central) are skipped.

Deletions: by comparison, the engine's sweep after a complete listing (``sweeps``).
Offset paging over a catalogue that changes during the run may shift a record across a page
boundary; the next full run repairs what that missed.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

from kg.harvest.contract import JSON, Item, Key, MappingError, Page
from kg.harvest.http import FetchError, Http
from kg.model.fields import ASSET_TYPES, IDENTIFIER_PATTERN, Kind
from mappings.base import BaseConnector, clean

# agents first: the records listed after them mostly refer to them
AGENTS = ("persons", "organisations", "teams", "contacts")
COLLECTIONS = AGENTS + tuple(c for c in ASSET_TYPES if c not in AGENTS and c != "platforms")
NATIVE = ("", "aiod")  # platform values of a record created on the upstream itself
DROPPED = {"identifier", "aiod_entry"}  # the upstream's own identifier and catalogue record
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)
_BY_PREFIX = {a.prefix: a.collection for a in ASSET_TYPES.values()}

Entry = tuple[str, JSON]  # (collection, upstream record)


def collection_of(identifier: object) -> str | None:
    """The asset type an AIoD v2 identifier (``data_...``, ``prsn_...``) belongs to."""
    if not isinstance(identifier, str) or not _IDENTIFIER.match(identifier):
        return None
    return _BY_PREFIX.get(identifier.split("_", 1)[0])


class AiodConnector(BaseConnector):
    name = "aiod"
    sweeps = True
    incremental = True  # date_modified_after

    def __init__(
        self,
        base_url: str,
        platform: str = "aiod",
        page_size: int = 100,
        collections: tuple[str, ...] = COLLECTIONS,
        own_platform: str | None = None,
    ) -> None:
        super().__init__(base_url, page_size)
        self.platform = platform
        self.collections = collections
        self.own_platform = own_platform
        self._known: dict[str, Entry] = {}  # upstream records met this run, by identifier
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ listing

    def pages(self, http: Http, cursor: JSON | None, since: datetime | None) -> Iterator[Page]:
        start = int((cursor or {}).get("collection", 0))
        offset = int((cursor or {}).get("offset", 0))
        params: dict[str, Any] = {"limit": self.page_size}
        if since is not None:
            params["date_modified_after"] = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        for index in range(start, len(self.collections)):
            collection = self.collections[index]
            url = f"{self.base_url}/{collection}"
            while True:
                response = http.get(url, params={**params, "offset": offset}, ok=(200, 404))
                if response.status_code == 404:
                    records: list[Any] = []  # the upstream has no such collection
                else:
                    records = _json_list(response.content, str(response.url))
                entries = [(collection, r) for r in records if isinstance(r, dict)]
                with self._lock:
                    for entry in entries:
                        if isinstance(entry[1].get("identifier"), str):
                            self._known[entry[1]["identifier"]] = entry
                full = len(records) >= self.page_size
                offset = offset + len(records) if full else 0
                following = index if full else index + 1
                yield Page(entries=entries, cursor={"collection": following, "offset": offset})
                if not full:
                    break

    def entry_id(self, entry: Any) -> str:
        collection, record = entry
        return f"{collection}/{record.get('identifier')}"

    def entry_keys(self, entry: Any) -> list[Key]:
        collection, record = entry
        identity = self._identity(record)
        return [Key(collection, *identity)] if identity else []

    # ------------------------------------------------------------------ details

    def fetch(self, http: Http, entry: Any) -> Any:
        """The entry with the upstream records its references name (fetched once per run)."""
        collection, record = entry
        related: dict[str, Entry] = {}
        for identifier in _references(collection, record):
            found = self._related(http, identifier)
            if found is not None:
                related[identifier] = found
        return (collection, record, related)

    def _related(self, http: Http, identifier: str) -> Entry | None:
        with self._lock:
            if identifier in self._known:
                return self._known[identifier]
        collection = collection_of(identifier)
        if collection is None:
            return None
        try:
            response = http.get(f"{self.base_url}/{collection}/{identifier}", ok=(200,))
            body = orjson.loads(response.content)
        except (FetchError, orjson.JSONDecodeError):
            return None  # gone or unreadable: the reference is dropped
        if not isinstance(body, dict):
            return None
        with self._lock:
            self._known[identifier] = (collection, body)
        return (collection, body)

    # ------------------------------------------------------------------ mapping

    def _identity(self, record: JSON) -> tuple[str, str] | None:
        platform = str(record.get("platform") or "")
        if platform in NATIVE:
            identifier = record.get("identifier")
            return (self.platform, str(identifier)) if identifier else None
        resource_id = record.get("platform_resource_identifier")
        return (platform, str(resource_id)) if resource_id else None

    def _body(self, collection: str, record: JSON) -> JSON:
        asset = ASSET_TYPES[collection]
        body = {
            name: value
            for name, value in record.items()
            if name not in DROPPED
            and (fld := asset.by_name.get(name)) is not None
            and not fld.server
            and fld.kind is not Kind.REF
        }
        return body

    def map(self, raw: Any) -> list[Item]:
        collection, record, related = raw
        identity = self._identity(record)
        if identity is None:
            raise MappingError("record without identifier")
        if self.own_platform and identity[0] == self.own_platform:
            return []  # this node's own asset, back from the central
        refs: dict[str, list[Item]] = {}
        asset = ASSET_TYPES[collection]
        for fld in asset.fields:
            if fld.kind is not Kind.REF:
                continue
            values = record.get(fld.name)
            for value in values if isinstance(values, list) else [values]:
                found = related.get(value) if isinstance(value, str) else None
                item = self._flat(*found) if found else None
                if item is not None:
                    refs.setdefault(fld.name, []).append(item)
        return [self._item(collection, record, identity, refs)]

    def _flat(self, collection: str, record: JSON) -> Item | None:
        """A referenced record, without its own references (its listing brings them)."""
        identity = self._identity(record)
        if identity is None or (self.own_platform and identity[0] == self.own_platform):
            return None
        return self._item(collection, record, identity, {})

    def _item(
        self,
        collection: str,
        record: JSON,
        identity: tuple[str, str],
        refs: dict[str, list[Item]],
    ) -> Item:
        body = clean(self._body(collection, record))
        body["platform"], body["platform_resource_identifier"] = identity
        return Item(collection, body, refs)


def _references(collection: str, record: JSON) -> list[str]:
    out: list[str] = []
    for fld in ASSET_TYPES[collection].fields:
        if fld.kind is Kind.REF:
            values = record.get(fld.name)
            for value in values if isinstance(values, list) else [values]:
                if isinstance(value, str) and collection_of(value) is not None:
                    out.append(value)
    return list(dict.fromkeys(out))


def _json_list(content: bytes, url: str) -> list[Any]:
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise FetchError(url, 200, f"not JSON: {exc}") from None
    if not isinstance(body, list):
        raise FetchError(url, 200, "not an AIoD list (a JSON array was expected)")
    return body
