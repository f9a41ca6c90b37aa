"""Zenodo: OAI-PMH ``ListRecords`` with ``metadataPrefix=oai_datacite``, and the files API.

A run walks ``from``/``until`` windows (``zenodo_window_hours``) from ``since`` (or the end of
the last run; the first run starts one window back) to now. Each window's pages are all
fetched, following ``resumptionToken`` s, before any is processed: Zenodo's tokens expire
within minutes, processing does not have to race them. The cursor advances window by window.
Records whose header says ``status="deleted"`` are deleted here too. DataCite resource types
``Dataset`` become datasets (with their files from ``/api/records/{id}/files`` as
distributions); article-like types become publications; other types are skipped.

The OAI-PMH client is ~40 lines on ``kg.harvest.Http`` rather than ``sickle``: sickle talks
to ``requests`` directly, which would bypass the engine's timeouts, ``Retry-After`` and
backoff handling, and its request accounting.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from kg.harvest.contract import JSON, Item, Key, MappingError, Page
from kg.harvest.http import FetchError, Http
from mappings.base import (
    BaseConnector,
    as_int,
    http_url,
    iso_datetime,
    keywords,
    licence_note,
    licence_url,
    normalise_doi,
    paragraphs,
    squash,
    truncate,
    unique,
)

WEB = "https://zenodo.org"
OAI_TIME = "%Y-%m-%dT%H:%M:%SZ"
PUBLICATION_TYPES = frozenset(
    {
        "journalarticle",
        "bookchapter",
        "book",
        "conferencepaper",
        "conferenceproceeding",
        "preprint",
        "text",
        "report",
        "dissertation",
        "thesis",
        "peerreview",
        "datapaper",
        "publication",
    }
)
CLOSED = ("closedaccess", "embargoedaccess", "restrictedaccess")
# DataCite relationType (lower case) -> the typed link field of kg.model.fields (LINKS)
RELATION = {
    "isderivedfrom": "is_derived_from",
    "cites": "references",
    "references": "references",
    "issupplementto": "references",
    "documents": "references",
    "iscitedby": "is_referenced_by",
    "isreferencedby": "is_referenced_by",
    "issupplementedby": "is_referenced_by",
    "isdocumentedby": "is_referenced_by",
    "isdescribedby": "is_referenced_by",
    "isversionof": "is_version_of",
}


def _kind(resource_type: str | None) -> str | None:
    value = (resource_type or "").strip().lower()
    if value in ("dataset", "datasets"):
        return "datasets"
    if value in PUBLICATION_TYPES:
        return "publications"
    return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(element: ET.Element | None, *path: str) -> ET.Element | None:
    """The first descendant path by local names (namespaces ignored)."""
    for name in path:
        if element is None:
            return None
        element = next((c for c in element if _local(c.tag) == name), None)
    return element


def _children(element: ET.Element | None, name: str) -> list[ET.Element]:
    return [c for c in element if _local(c.tag) == name] if element is not None else []


def _text(element: ET.Element | None) -> str | None:
    return squash(element.text) if element is not None and element.text else None


class ZenodoConnector(BaseConnector):
    name = "zenodo"
    platform = "zenodo"
    sweeps = False  # OAI-PMH reports deletions itself
    incremental = True

    def __init__(
        self, base_url: str, window_hours: float = 24.0, now: datetime | None = None
    ) -> None:
        super().__init__(base_url)
        self.window = timedelta(hours=window_hours)
        self.now = now  # fixed "until" for tests and replays

    @property
    def oai_url(self) -> str:
        return f"{self.base_url}/oai2d"

    # ------------------------------------------------------------------ listing

    def pages(self, http: Http, cursor: JSON | None, since: datetime | None) -> Iterator[Page]:
        end = self.now or datetime.now(UTC).replace(microsecond=0)
        if cursor:
            start = datetime.fromisoformat(cursor["from"])
            end = datetime.fromisoformat(cursor["until"])
        else:
            start = since or end - self.window
        while start < end:
            stop = min(start + self.window, end)
            responses = self._window(http, start, stop)  # every page before processing
            for number, (root, total) in enumerate(responses, 1):
                page = self._page(root)
                page.total = total
                if number == len(responses):
                    page.cursor = {"from": stop.isoformat(), "until": end.isoformat()}
                yield page
            if not responses:
                yield Page(cursor={"from": stop.isoformat(), "until": end.isoformat()})
            start = stop

    def _window(
        self, http: Http, start: datetime, stop: datetime
    ) -> list[tuple[ET.Element, int | None]]:
        params: dict[str, Any] = {
            "verb": "ListRecords",
            "metadataPrefix": "oai_datacite",
            "from": start.astimezone(UTC).strftime(OAI_TIME),
            "until": stop.astimezone(UTC).strftime(OAI_TIME),
        }
        out: list[tuple[ET.Element, int | None]] = []
        seen_tokens: set[str] = set()
        while True:
            response = http.get(self.oai_url, params=params)
            try:
                root = ET.fromstring(response.content)
            except ET.ParseError as exc:
                raise FetchError(
                    str(response.url), response.status_code, f"OAI-PMH response is not XML: {exc}"
                ) from None
            error = _find(root, "error")
            if error is not None:
                code = error.get("code", "")
                if code == "noRecordsMatch":
                    return out
                raise FetchError(
                    str(response.url), response.status_code, f"OAI-PMH error {code}: {_text(error)}"
                )
            token_element = _find(root, "ListRecords", "resumptionToken")
            total = (
                as_int(token_element.get("completeListSize")) if token_element is not None else None
            )
            out.append((root, total))
            token = _text(token_element)
            if not token or token in seen_tokens:
                return out
            seen_tokens.add(token)
            params = {"verb": "ListRecords", "resumptionToken": token}

    def _page(self, root: ET.Element) -> Page:
        page = Page()
        for record in _children(_find(root, "ListRecords"), "record"):
            header = _find(record, "header")
            identifier = _text(_find(header, "identifier")) or ""
            resource_id = identifier.removeprefix("oai:")
            if header is not None and header.get("status") == "deleted":
                page.deletions.extend(
                    self.key(asset, resource_id) for asset in ("datasets", "publications")
                )
                continue
            resource = _find(record, "metadata", "oai_datacite", "payload", "resource")
            resource_type = _find(resource, "resourceType")
            kind = _kind(
                resource_type.get("resourceTypeGeneral") if resource_type is not None else None
            )
            page.entries.append((resource_id, kind, resource))
        return page

    def entry_id(self, entry: Any) -> str:
        return str(entry[0])

    def entry_keys(self, entry: Any) -> list[Key]:
        resource_id, kind, _ = entry
        return [self.key(kind, resource_id)] if kind else []

    # ------------------------------------------------------------------ details

    def fetch(self, http: Http, entry: Any) -> Any:
        resource_id, kind, resource = entry
        files: list[Any] = []
        if kind == "datasets":
            number = resource_id.rsplit(":", 1)[-1]
            response = http.get(
                f"{self.base_url}/api/records/{number}/files", ok=(200, 403, 404, 410)
            )
            if response.status_code == 200:
                body = response.json()
                files = body.get("entries") or [] if isinstance(body, dict) else []
        return (resource_id, kind, resource, files)

    # ------------------------------------------------------------------ mapping

    def map(self, raw: Any) -> list[Item]:
        resource_id, kind, resource, files = raw
        if kind is None:
            return []
        if resource is None:
            raise MappingError("record without a DataCite resource")
        titles = _children(_find(resource, "titles"), "title")
        title = next((_text(t) for t in titles if not t.get("titleType") and _text(t)), None)
        title = title or next((_text(t) for t in titles if _text(t)), None)
        if not title:
            raise MappingError("record without a title")
        number = resource_id.rsplit(":", 1)[-1]
        doi = None
        identifier = _find(resource, "identifier")
        if identifier is not None and identifier.get("identifierType", "").upper() == "DOI":
            doi = normalise_doi(identifier.text)
        description = next(
            (
                paragraphs(d.text)
                for d in _children(_find(resource, "descriptions"), "description")
                if d.get("descriptionType") == "Abstract" and d.text
            ),
            None,
        )
        issued = next(
            (
                iso_datetime(_text(d))
                for d in _children(_find(resource, "dates"), "date")
                if d.get("dateType") == "Issued"
            ),
            None,
        )
        licence, free, notes = None, None, []
        for rights in _children(_find(resource, "rightsList"), "rights"):
            uri = (rights.get("rightsURI") or "").strip()
            lowered = uri.lower()
            if lowered.startswith("info:eu-repo/semantics/"):
                free = not lowered.endswith(CLOSED)
                continue
            candidate = licence_url(uri) or licence_url(_text(rights))
            if candidate and licence is None:
                licence = candidate.removesuffix("legalcode")
            elif licence is None and _text(rights):
                notes.append(licence_note(self.platform, _text(rights)))
        links: list[str | None] = []
        typed: dict[str, list[str | None]] = {field: [] for field in set(RELATION.values())}
        for related in _children(_find(resource, "relatedIdentifiers"), "relatedIdentifier"):
            link = _related_iri(
                squash(related.text) or "", related.get("relatedIdentifierType", "")
            )
            links.append(link)
            field = RELATION.get(related.get("relationType", "").lower())
            if link and field:
                typed[field].append(link)
        creators = []
        for creator in _children(_find(resource, "creators"), "creator"):
            orcid = next(
                (
                    _text(n)
                    for n in _children(creator, "nameIdentifier")
                    if n.get("nameIdentifierScheme", "").upper() == "ORCID"
                ),
                None,
            )
            person = self.person(
                _text(_find(creator, "creatorName")) or "",
                orcid,
                _text(_find(creator, "givenName")),
                _text(_find(creator, "familyName")),
            )
            if person is not None:
                creators.append(person)
        record: JSON = {
            "name": truncate(title),
            "description": {"plain": description},
            "same_as": f"{WEB}/records/{number}",
            "pid": f"https://doi.org/{doi}" if doi else None,
            "date_published": issued,
            "license": licence,
            "is_accessible_for_free": free,
            "keyword": keywords(
                _text(s) for s in _children(_find(resource, "subjects"), "subject")
            ),
            "version": _text(_find(resource, "version")),
            "relevant_link": unique(links)[:50],
            **{field: unique(values)[:50] for field, values in typed.items()},
            "note": [n for n in notes if n],
        }
        if kind == "datasets":
            record["distribution"] = [d for d in (_distribution(f) for f in files) if d]
        else:
            resource_type = _find(resource, "resourceType")
            record["type"] = (
                resource_type.get("resourceTypeGeneral") if resource_type is not None else None
            )
        return [self.item(kind, resource_id, record, {"creator": creators})]


def _related_iri(value: str, scheme: str) -> str | None:
    """A DataCite related identifier as an IRI (DOI, URL, arXiv; other schemes: ``None``)."""
    scheme = scheme.upper()
    if scheme == "DOI" and normalise_doi(value):
        return http_url(f"https://doi.org/{normalise_doi(value)}")
    if scheme == "URL":
        return http_url(value)
    if scheme == "ARXIV":
        arxiv = value.strip().removeprefix("arXiv:").removeprefix("arxiv:")
        return http_url(f"https://arxiv.org/abs/{arxiv}") if arxiv else None
    return None


def _distribution(entry: Any) -> JSON | None:
    if not isinstance(entry, dict):
        return None
    links = entry.get("links") or {}
    url = http_url(links.get("content") or links.get("self"))
    if not url:
        return None
    algorithm, _, checksum = str(entry.get("checksum") or "").partition(":")
    size = as_int(entry.get("size"))
    return {
        "name": squash(entry.get("key")),
        "content_url": url,
        "encoding_format": squash(entry.get("mimetype")),
        "checksum": checksum or None,
        "checksum_algorithm": algorithm if checksum else None,
        "content_size_kb": size // 1024 if size is not None and size >= 0 else None,
    }
