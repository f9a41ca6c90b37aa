"""Strong identifiers: one normalised key per way of naming a work (DOI, arXiv id, a platform's
canonical URL), so that two records naming the same work by different spellings meet.

``keys_of(iri)`` -> e.g. ``doi:10.5281/zenodo.7``, ``zenodo:7`` (a Zenodo DOI and its record
URL give the same key), ``arxiv:1810.04805`` (version dropped), ``hf-dataset:glue``,
``hf-model:google-bert/bert-base-uncased``, ``openml-data:61``, ``url:host/path``.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

_DOI = re.compile(r"(10\.\d{4,9}/[^\s\"<>]+)", re.IGNORECASE)
_ARXIV = re.compile(r"^(?:abs|pdf)/([a-z\-]+/\d{7}|\d{4}\.\d{4,5})(?:v\d+)?(?:\.pdf)?$", re.I)
_ZENODO_DOI = re.compile(r"^10\.5281/zenodo\.(\d+)$")
HF_RESERVED = frozenset({"datasets", "spaces", "docs", "api", "models", "blog", "papers"})


def doi_key(text: str) -> str | None:
    match = _DOI.search(unquote(text))
    return "doi:" + match.group(1).rstrip(".,;").lower() if match else None


def keys_of(value: str | None) -> list[str]:
    """The strong keys of an IRI (or a bare DOI / ``arXiv:`` id); ``[]`` when it has none."""
    if not value:
        return []
    text = value.strip()
    lowered = text.lower()
    if lowered.startswith(("doi:", "10.")) or "doi.org/" in lowered:
        key = doi_key(text)
        if key is None:
            return []
        zenodo = _ZENODO_DOI.match(key[4:])
        return [key, f"zenodo:{zenodo.group(1)}"] if zenodo else [key]
    if lowered.startswith("arxiv:"):
        return [f"arxiv:{lowered[6:].strip()}"]
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return []
    host = parts.netloc.lower().removeprefix("www.")
    path = unquote(parts.path).strip("/")
    segments = path.split("/") if path else []
    if host in ("arxiv.org", "export.arxiv.org"):
        match = _ARXIV.match(path)
        return [f"arxiv:{match.group(1).lower()}"] if match else []
    if host == "huggingface.co" and segments:
        if segments[0] == "datasets" and len(segments) >= 2:
            return [f"hf-dataset:{'/'.join(segments[1:3]).lower()}"]
        if segments[0] not in HF_RESERVED and len(segments) <= 2:
            return [f"hf-model:{'/'.join(segments).lower()}"]
    if host == "openml.org":
        if len(segments) == 2 and segments[0] in ("d", "f") and segments[1].isdigit():
            return [f"openml-{'data' if segments[0] == 'd' else 'flow'}:{segments[1]}"]
        query = parse_qs(parts.query)
        if query.get("type") == ["data"] and query.get("id", [""])[0].isdigit():
            return [f"openml-data:{query['id'][0]}"]
    if host == "zenodo.org" and len(segments) == 2 and segments[0] in ("records", "record"):
        return [f"zenodo:{segments[1]}"] if segments[1].isdigit() else []
    suffix = f"?{parts.query}" if parts.query else ""
    return [f"url:{host}/{path}{suffix}"]


def platform_of_key(key: str) -> str | None:
    """The platform a key belongs to (``zenodo:7`` -> ``zenodo``); ``None`` for DOIs and URLs."""
    scheme = key.split(":", 1)[0]
    return {
        "zenodo": "zenodo",
        "hf-dataset": "huggingface",
        "hf-model": "huggingface",
        "openml-data": "openml",
        "openml-flow": "openml",
    }.get(scheme)
