"""What search sees of an asset: its text fields and its filterable facets.

One function, ``document_of``, turns an AIoD JSON asset into a ``SearchDocument``. Everything
the index stores is derived from it, so a rebuild from the store gives the same index.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

JSON = dict[str, Any]

# Curated label lists whose entries describe what an asset is about: they are matched
# semantically one by one (see ``kg.search.index``), besides being part of the text.
LABEL_FIELDS = (
    "keyword",
    "application_area",
    "research_area",
    "scientific_domain",
    "industrial_sector",
    "alternate_name",
)
DENSE_DESCRIPTION_WORDS = 48  # the start of a description says what the asset is
_TAG_RE = re.compile(r"<[^>]+>")
_SPACE_RE = re.compile(r"\s+")
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


@dataclass(frozen=True)
class SearchDocument:
    identifier: str
    type: str
    name: str
    description: str
    keywords: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()  # keywords + other curated label lists, for semantic matching
    platform: str | None = None
    license: str | None = None
    date: int | None = None  # proleptic ordinal of date_published (or date_created)
    date_modified: str = ""
    extra: tuple[str, ...] = field(default=())  # other short text worth matching lexically

    @property
    def dense_text(self) -> str:
        """The text embedded as the asset's vector: name, start of description, labels."""
        words = self.description.split()
        start = " ".join(words[:DENSE_DESCRIPTION_WORDS])
        labels = "; ".join(label_text(k) for k in self.labels)
        return clean(f"{readable(self.name)}. {start} {labels}")

    @property
    def lexical_text(self) -> str:
        """Everything matched by BM25."""
        labels = " ".join(readable(k) for k in self.labels)
        return " ".join([readable(self.name), self.description, labels, *self.extra])


def clean(text: str) -> str:
    return _SPACE_RE.sub(" ", text).strip()


def readable(text: str) -> str:
    """Identifier-like names and tags read as words: ``image_net-v2`` -> ``image net v2``."""
    return re.sub(r"[_\-.:/]+", " ", text)


def label_text(label: str) -> str:
    """A hierarchical tag (``ml.task.image-classification``) is meant by its last part."""
    text = label.strip()
    parts = text.split(".")
    if " " not in text and len(parts) >= 2 and all(p[:1].isalpha() for p in parts):
        text = parts[-1]
    return readable(text).strip()


def strip_html(text: str) -> str:
    return html.unescape(_TAG_RE.sub(" ", text))


def parse_date(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    match = _DATE_RE.match(value)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3])).toordinal()
    except ValueError:
        return None


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, str) and item.strip():
            out.append(item.strip())
        elif isinstance(item, dict):  # e.g. {"value": ...} notes or {"name": ...} terms
            for key in ("name", "value", "plain"):
                if isinstance(item.get(key), str):
                    out.append(item[key].strip())
                    break
    return out


def description_of(data: JSON) -> str:
    desc = data.get("description")
    if isinstance(desc, dict):
        plain = desc.get("plain")
        if isinstance(plain, str) and plain.strip():
            return clean(plain)
        html_text = desc.get("html")
        if isinstance(html_text, str):
            return clean(strip_html(html_text))
        return ""
    if isinstance(desc, str):
        return clean(desc)
    return ""


def name_of(data: JSON) -> str:
    name = data.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    parts = [data.get("given_name"), data.get("surname")]
    joined = " ".join(p for p in parts if isinstance(p, str) and p.strip())
    return joined or str(data.get("identifier", ""))


def document_of(asset_type: str, identifier: str, data: JSON) -> SearchDocument:
    keywords = tuple(dict.fromkeys(_strings(data.get("keyword"))))
    labels: list[str] = []
    for name in LABEL_FIELDS:
        labels.extend(_strings(data.get(name)))
    entry = data.get("aiod_entry") if isinstance(data.get("aiod_entry"), dict) else {}
    assert isinstance(entry, dict)
    license_value = data.get("license")
    if isinstance(license_value, dict):
        license_value = license_value.get("name")
    platform = data.get("platform")
    extra = [*(_strings(data.get("issn"))), *(_strings(data.get("measurement_technique")))]
    return SearchDocument(
        identifier=identifier,
        type=asset_type,
        name=name_of(data),
        description=description_of(data),
        keywords=keywords,
        labels=tuple(dict.fromkeys(labels)),
        platform=platform if isinstance(platform, str) else None,
        license=license_value.strip() if isinstance(license_value, str) else None,
        date=parse_date(data.get("date_published")) or parse_date(entry.get("date_created")),
        date_modified=str(entry.get("date_modified") or ""),
        extra=tuple(extra),
    )
