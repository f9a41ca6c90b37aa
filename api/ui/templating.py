"""The UI's Jinja environment, its filters and the headers every UI page carries."""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from kg import __version__
from kg.model.fields import ASSET_TYPES
from kg.model.iris import is_link

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STATIC_PATH = "/ui/static"
# only the page's own scripts and styles, talking only to its own origin
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = {"Content-Security-Policy": CSP, "Vary": "Accept"}
_ACRONYMS = {
    "ml": "ML",
    "iri": "IRI",
    "url": "URL",
    "pid": "PID",
    "issn": "ISSN",
    "aiod": "AIoD",
    "kb": "KB",
    "id": "ID",
}


@lru_cache(maxsize=1)
def static_version() -> str:
    """A hash of the static files: their URLs change when they do (cache busting)."""
    digest = hashlib.blake2b(__version__.encode(), digest_size=6)
    for path in sorted(STATIC.iterdir()):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def humanize(name: str) -> str:
    """``date_published`` -> ``Date published``; ``ml_models`` -> ``ML models``."""
    words = [_ACRONYMS.get(w, w) for w in name.replace("-", "_").split("_") if w]
    if not words:
        return name
    first = words[0]
    return " ".join([first[:1].upper() + first[1:], *words[1:]])


def type_label(collection: str, count: int | None = None) -> str:
    """A collection name for people: ``datasets`` -> ``Datasets``; singular for one."""
    asset = ASSET_TYPES.get(collection)
    if asset is not None and count == 1:
        return humanize(asset.singular)
    return humanize(collection)


def singular(collection: str) -> str:
    asset = ASSET_TYPES.get(collection)
    return humanize(asset.singular) if asset else humanize(collection)


_CC = re.compile(r"creativecommons\.org/(?:licenses|publicdomain)/([a-z\-]+)/([0-9.]+)")


def license_label(value: Any) -> str:
    """A short name for a licence IRI (``CC BY 4.0``, ``MIT``), else the value itself."""
    text = str(value or "")
    match = _CC.search(text)
    if match:
        kind, version = match.groups()
        kind = "0" if kind == "zero" else " " + kind.upper()
        return f"CC{kind} {version}".replace("CC 0", "CC0")
    if "public-domain/cc0" in text or text.rstrip("/").endswith("/cc0"):
        return "CC0"
    if re.search(r"(spdx|opensource|choosealicense)\.(org|com)/licen[cs]es/", text):
        last = text.rstrip("/").rsplit("/", 1)[-1]
        return re.sub(r"\.(html|json|php)$", "", last)
    if text.startswith(("http://", "https://")):
        parts = urlsplit(text)
        path = parts.path.rstrip("/")
        return (parts.netloc + path)[:60]
    return text[:60]


def short_date(value: Any) -> str:
    """``2014-04-06T23:19:24`` -> ``2014-04-06``."""
    text = str(value or "")
    return text[:10] if re.match(r"^\d{4}-\d{2}-\d{2}", text) else text


def is_url(value: Any) -> bool:
    """What the UI renders as a link (``href``): valid http(s) IRIs only, never
    ``javascript:``, ``data:`` or anything with controls (kg.model.iris.is_link)."""
    return is_link(value)


def json_script(document: Any) -> Markup:
    """JSON safe inside a ``<script type="application/ld+json">`` element."""
    text = json.dumps(document, ensure_ascii=False, indent=1)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def query_string(params: list[tuple[str, str]]) -> str:
    return urlencode(params)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        humanize=humanize,
        type_label=type_label,
        singular=singular,
        license_label=license_label,
        short_date=short_date,
        json_script=json_script,
    )
    env.tests["url"] = is_url
    env.globals.update(
        static=STATIC_PATH,
        static_version=static_version(),
        version=__version__,
        asset_types=list(ASSET_TYPES),
    )
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
