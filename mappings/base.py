"""The shared base of every connector, and helpers for mapping upstream values to AIoD JSON.

A connector lists an upstream platform page by page, fetches per-record details and maps
each record to AIoD JSON (``kg.harvest.Item``: the same dicts the REST API accepts). It never
builds triples and never writes: ``kg.harvest.Harvester`` does the rest (state, retries,
validation, idempotent upserts, deletions, report).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit, urlunsplit

from kg.harvest.contract import JSON, Item, Key, Page
from kg.harvest.http import Http
from kg.model.rdf_mapping import is_iri

NAME_MAX = 256  # AIoD's limit on `name`
TRUNCATED = " [...]"


class BaseConnector:
    """Defaults shared by the connectors; subclasses implement ``pages`` and ``map``."""

    name: ClassVar[str] = ""
    platform: str = ""
    sweeps: ClassVar[bool] = True  # a run without ``since`` lists every live record
    incremental: ClassVar[bool] = False  # ``since`` makes upstream list fewer records

    def __init__(self, base_url: str, page_size: int = 100) -> None:
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size

    @property
    def source(self) -> str:
        return f"{self.name} {self.base_url}"

    def pages(self, http: Http, cursor: JSON | None, since: datetime | None) -> Iterator[Page]:
        raise NotImplementedError

    def entry_id(self, entry: Any) -> str:
        return str(entry)

    def entry_keys(self, entry: Any) -> list[Key]:
        return []

    def fetch(self, http: Http, entry: Any) -> Any:
        return entry

    def map(self, raw: Any) -> list[Item]:
        raise NotImplementedError

    # ------------------------------------------------------------------ builders

    def key(self, asset: str, resource_id: str) -> Key:
        return Key(asset, self.platform, resource_id)

    def item(
        self, asset: str, resource_id: str, record: JSON, refs: dict[str, list[Item]] | None = None
    ) -> Item:
        """An item of this platform: ``record`` cleaned of empty values."""
        body = clean(
            {**record, "platform": self.platform, "platform_resource_identifier": resource_id}
        )
        return Item(asset, body, {k: v for k, v in (refs or {}).items() if v})

    def person(
        self,
        name: str,
        orcid: str | None = None,
        given: str | None = None,
        family: str | None = None,
    ) -> Item | None:
        """A person known by name (and ORCID iD when upstream gives one)."""
        full_name = squash(name)
        if not full_name:
            return None
        orcid = normalise_orcid(orcid)
        resource_id = f"orcid:{orcid}" if orcid else f"name:{full_name.casefold()}"
        return self.item(
            "persons",
            resource_id,
            {
                "name": truncate(full_name),
                "given_name": squash(given),
                "surname": squash(family),
                "same_as": f"https://orcid.org/{orcid}" if orcid else None,
            },
        )


# --------------------------------------------------------------------------- value helpers


def clean(value: Any) -> Any:
    """Drop ``None``, empty strings, lists and objects, recursively."""
    if isinstance(value, dict):
        out = {k: clean(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        items = [clean(v) for v in value]
        return [v for v in items if v not in (None, "", [], {})]
    return value


def squash(value: Any) -> str | None:
    """One-line text: whitespace runs become one space; ``None`` for nothing."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = " ".join(str(value).split())
    return text or None


def paragraphs(value: Any) -> str | None:
    """Multi-line text with each line trimmed and at most one blank line in a row."""
    if not isinstance(value, str):
        return None
    lines = [line.strip() for line in value.replace("\r\n", "\n").split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return text or None


def truncate(text: str | None, limit: int = NAME_MAX) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - len(TRUNCATED)].rstrip() + TRUNCATED


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def unique(values: Iterable[Any]) -> list[Any]:
    return [v for v in dict.fromkeys(v for v in values if v not in (None, ""))]


def keywords(values: Iterable[Any]) -> list[str]:
    return unique(squash(v) for v in values if isinstance(v, (str, int, float)))


_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?")


def iso_datetime(value: Any) -> str | None:
    """``YYYY-MM-DDTHH:MM:SS`` (UTC) from the date forms upstreams use; ``None`` otherwise."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    match = _DATE_RE.match(text)
    if not match:
        return None
    try:
        if match.group(4) is None:
            parsed = datetime(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
            if parsed.tzinfo is not None:
                parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    except ValueError:
        try:
            y, mo, d, h, mi, sec = (int(g or 0) for g in match.groups())
            parsed = datetime(y, mo, d, h, mi, sec)
        except ValueError:
            return None
    return parsed.strftime("%Y-%m-%dT%H:%M:%S")


def to_datetime(value: Any) -> datetime | None:
    text = iso_datetime(value)
    return datetime.fromisoformat(text).replace(tzinfo=UTC) if text else None


_PLAIN_URL = re.compile(
    r"^https?://[A-Za-z0-9.\-]+(?::\d+)?(?:[/?#][A-Za-z0-9\-._~:/?#@!$&'()*+,;=%]*)?$"
)


def http_url(value: Any) -> str | None:
    """An absolute http(s) URL (spaces and other unsafe characters percent-encoded)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _PLAIN_URL.match(text):
        return text  # the common case: nothing to encode
    if not text.lower().startswith(("http://", "https://")):
        return None
    parts = urlsplit(text)
    if not parts.netloc:
        return None
    safe = "/:@!$&'()*+,;=-._~%"
    text = urlunsplit(
        (
            parts.scheme,
            parts.netloc,
            quote(parts.path, safe=safe),
            quote(parts.query, safe=safe + "?"),
            quote(parts.fragment, safe=safe),
        )
    )
    return text if is_iri(text) else None


def as_int(value: Any) -> int | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number == number and abs(number) != float("inf") else None


def short_hash(text: str, length: int = 16) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


def normalise_orcid(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    match = re.search(r"(\d{4}-\d{4}-\d{4}-\d{3}[\dX])", value.upper())
    return match.group(1) if match else None


def normalise_doi(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    match = re.search(r"(10\.\d{4,9}/\S+)", value.strip())
    return match.group(1).rstrip(".,;") if match else None


_DOI_IN_TEXT = re.compile(r"\b(10\.\d{4,9}/[^\s\"'<>\]\[(){}]+)")


def doi_urls(text: Any, limit: int = 20) -> list[str]:
    """``https://doi.org/...`` for every DOI written anywhere in ``text`` (a description, a
    citation), in order, without repeats."""
    if not isinstance(text, str):
        return []
    found = (m.group(1).rstrip(".,;:") for m in _DOI_IN_TEXT.finditer(text))
    return unique(http_url(f"https://doi.org/{doi}") for doi in found)[:limit]


# --------------------------------------------------------------------------- licences

_CC_RE = re.compile(r"^cc[-_ ]?(by(?:[-_ ](?:nc|sa|nd))*)[-_ ]?(\d\.\d)?$")
_SPDX_IDS = [
    "0BSD",
    "AFL-3.0",
    "AGPL-3.0",
    "Apache-2.0",
    "Artistic-2.0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "BSD-3-Clause-Clear",
    "BSL-1.0",
    "CDLA-Permissive-1.0",
    "CDLA-Permissive-2.0",
    "CDLA-Sharing-1.0",
    "ECL-2.0",
    "EPL-1.0",
    "EPL-2.0",
    "EUPL-1.1",
    "EUPL-1.2",
    "GPL-2.0",
    "GPL-3.0",
    "ISC",
    "LGPL-2.1",
    "LGPL-3.0",
    "LPPL-1.3c",
    "MIT",
    "MPL-2.0",
    "MS-PL",
    "NCSA",
    "ODbL-1.0",
    "ODC-By-1.0",
    "OFL-1.1",
    "OSL-3.0",
    "PDDL-1.0",
    "PostgreSQL",
    "Unlicense",
    "WTFPL",
    "Zlib",
]
_SPDX = {i.lower(): i for i in _SPDX_IDS}
_LICENCE_ALIASES = {
    "cc0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "cc0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "cc0 1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "creative commons zero v1.0 universal": "https://creativecommons.org/publicdomain/zero/1.0/",
    "public domain mark": "https://creativecommons.org/publicdomain/mark/1.0/",
    "gpl": "https://spdx.org/licenses/GPL-3.0-or-later.html",
    "gpl-3.0+": "https://spdx.org/licenses/GPL-3.0-or-later.html",
    "apache license 2.0": "https://spdx.org/licenses/Apache-2.0.html",
    "apache 2.0": "https://spdx.org/licenses/Apache-2.0.html",
    "mit license": "https://spdx.org/licenses/MIT.html",
    "bsd-3-clause-clear": "https://spdx.org/licenses/BSD-3-Clause-Clear.html",
    "openrail": "https://www.licenses.ai/ai-licenses",
}


def licence_url(value: Any) -> str | None:
    """A licence IRI from an SPDX id, a Creative Commons name or a URL; ``None`` if unknown.

    ``Public``, ``other``, ``unknown`` and the like are not licences: ``None``.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    url = http_url(text)
    if url:
        return url
    lowered = unicodedata.normalize("NFKC", text).lower()
    if lowered in _LICENCE_ALIASES:
        return _LICENCE_ALIASES[lowered]
    match = _CC_RE.match(lowered.replace("attribution", "by"))
    if match:
        kind = re.sub(r"[-_ ]+", "-", match.group(1))
        version = match.group(2) or "4.0"
        return f"https://creativecommons.org/licenses/{kind}/{version}/"
    base = lowered.removesuffix("-only").removesuffix("-or-later")
    if base in _SPDX:
        suffix = lowered[len(base) :]
        return f"https://spdx.org/licenses/{_SPDX[base]}{suffix}.html"
    return None


def licence_note(platform: str, value: Any) -> JSON | None:
    """A note keeping a licence text that is not a known licence IRI."""
    text = squash(value)
    if not text or text.lower() in ("unknown", "other", "none", "n/a"):
        return None
    return {"value": f"Licence on {platform}: {text}"}
