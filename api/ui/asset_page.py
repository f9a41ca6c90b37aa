"""The HTML page of one asset -- what its IRI answers to browsers (``api.linked_data``).

Every field of the record, its distributions with download links, the assets it refers to
(public ones only, by name), similar assets from the search index, the formats menu and the
schema.org JSON-LD that crawlers read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from api.ui.derived_view import asset_derived
from api.ui.markdown import lead_and_rest, render_markdown
from api.ui.templating import HEADERS, render
from kg.catalog import Catalog
from kg.formats.records import PublicRecord, RecordReader
from kg.model.fields import PREFIX_TO_TYPE, Field, Kind
from kg.model.identifiers import IDENTIFIER_RE
from kg.sync.view import origin

MAX_REFERENCES = 200
SIMILAR = 6
LEAD_CHARS = 700  # description shown before 'Show the full description'
# shown elsewhere on the page (title, text, downloads, record box)
SEPARATE = {
    "name",
    "description",
    "distribution",
    "identifier",
    "aiod_entry",
    "ai_asset_identifier",
    "ai_resource_identifier",
}
FORMATS = (
    ("JSON", "json"),
    ("JSON-LD", "jsonld"),
    ("Turtle", "turtle"),
    ("RDF/XML", "rdfxml"),
    ("N-Triples", "ntriples"),
)


@dataclass(frozen=True)
class Reference:
    identifier: str
    type: str
    name: str


@dataclass(frozen=True)
class Row:
    label: str
    value: Any  # str, int, bool, list, dict: rendered by the template's value macro
    kind: str


def _walk_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _walk_strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _walk_strings(item)


def _is_reference(value: str) -> bool:
    match = IDENTIFIER_RE.match(value)
    return bool(match and match.group(1) in PREFIX_TO_TYPE)


def resolve_references(
    reader: RecordReader, data: dict[str, Any], skip: str
) -> dict[str, Reference]:
    """The public assets that ``data`` refers to, by identifier (never non-public ones)."""
    wanted: list[str] = []
    for name, value in data.items():
        if name in ("identifier", "ai_asset_identifier", "ai_resource_identifier"):
            continue
        for text in _walk_strings(value):
            if text != skip and text not in wanted and _is_reference(text):
                wanted.append(text)
    found: dict[str, Reference] = {}
    for identifier in wanted[:MAX_REFERENCES]:
        record = reader.by_identifier(identifier)
        if record is not None:
            found[identifier] = Reference(identifier, record.asset.collection, record.name)
    return found


def _rows(fields: tuple[Field, ...], data: dict[str, Any]) -> list[Row]:
    rows = []
    for fld in fields:
        if fld.name in SEPARATE:
            continue
        value = data.get(fld.name)
        if value in (None, "", [], {}):
            continue
        rows.append(Row(fld.name, value, fld.kind.value))
    known = {f.name for f in fields}
    for name, value in data.items():  # anything the field table does not know (none today)
        if name not in known and name not in SEPARATE and value not in (None, "", [], {}):
            rows.append(Row(name, value, Kind.STRING.value))
    return rows


def _paragraphs(text: str | None) -> tuple[list[str], list[str]]:
    """The description's paragraphs: the first ones (about ``LEAD_CHARS``) and the rest."""
    if not text:
        return [], []
    paragraphs = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    lead: list[str] = []
    used = 0
    for paragraph in paragraphs:
        if lead and used + len(paragraph) > LEAD_CHARS:
            break
        lead.append(paragraph)
        used += len(paragraph)
    return lead, paragraphs[len(lead) :]


def _similar(
    request: Request, catalog: Catalog, record: PublicRecord, public: bool
) -> list[Reference]:
    index = getattr(request.app.state, "search", None)
    if index is None or not public:
        return []
    from api.routes.search import _load
    from kg.search.text import name_of

    try:
        hits = index.similar(record.identifier, SIMILAR, types=[record.asset.collection]) or []
    except Exception:  # the page never fails because of the search index
        return []
    out = []
    for hit in hits:
        data = _load(catalog, hit.type, hit.identifier)
        if data is not None:
            out.append(Reference(hit.identifier, hit.type, name_of(data)))
    return out


def _same_work(request: Request, record: PublicRecord, public: bool) -> list[dict[str, str]]:
    """The other records of this work on other platforms (kg/linking; public ones only)."""
    linker = getattr(request.app.state, "linker", None)
    if linker is None or not public:
        return []
    try:
        return list(linker.others(record.identifier))
    except Exception:  # the page never fails because of the link index
        return []


def asset_page(
    request: Request,
    catalog: Catalog,
    record: PublicRecord,
    document: dict[str, Any],
    reader: RecordReader,
) -> tuple[str, dict[str, str]]:
    """The page and the headers to add to the answer."""
    data = record.data
    entry = data.get("aiod_entry") if isinstance(data.get("aiod_entry"), dict) else {}
    assert isinstance(entry, dict)
    status = str(entry.get("status") or "published")
    public = status == "published"
    formats = list(FORMATS)
    if record.asset.collection == "datasets":
        formats.append(("Croissant", "croissant"))
    distributions = [d for d in data.get("distribution") or [] if isinstance(d, dict)]
    references = resolve_references(reader, data, record.identifier)
    lead, more = _paragraphs(record.description)
    lead_md, more_md = lead_and_rest(record.description, LEAD_CHARS)  # safe Markdown
    page = render(
        "asset.html",
        page="asset",
        record=record,
        asset=record.asset,
        data=data,
        iri=record.iri,
        status=status,
        public=public,
        paragraphs=lead,
        more_paragraphs=more,
        description_html=render_markdown(lead_md),
        more_description_html=render_markdown(more_md),
        origin=origin(catalog.settings, data.get("platform")),  # node or central (kg/sync)
        rows=_rows(record.asset.fields, data),
        distributions=distributions,
        references=references,
        related=[
            (name, [references[i] for i in _walk_strings(data.get(name)) if i in references])
            for name in data
            if name not in SEPARATE
        ],
        similar=_similar(request, catalog, record, public),
        same_work=_same_work(request, record, public),
        **asset_derived(request, record.identifier, public),  # quality, suggestions (issue 18)
        formats=formats,
        document=document,
        entry=entry,
        catalog_title=catalog.settings.catalog_title,
    )
    return page, dict(HEADERS)
