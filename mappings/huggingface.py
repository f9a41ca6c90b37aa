"""Hugging Face Hub: datasets (``/api/datasets``) and models (``/api/models``).

Listing: ``GET /api/datasets?full=true&limit=n`` and the same for models, paged by the cursor
URL of the ``Link: <...>; rel="next"`` header. An incremental run (``since``) asks for
``sort=lastModified&direction=-1`` and stops at the first record older than ``since``.
Private or disabled repositories are deleted. Datasets get their parquet files from the
dataset viewer (``GET {viewer}/parquet?dataset=<id>``) as distributions; their BibTeX
citations become publications referenced by ``citation``. Models get their repository files
(``siblings``) as distributions.

``platform_resource_identifier`` is the Hub's internal ``_id`` (stable when a repository is
renamed); ``name`` is the repository id (``owner/name``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

from kg.harvest.contract import JSON, Item, Key, MappingError, Page
from kg.harvest.http import Http
from mappings import bibtex
from mappings.base import (
    BaseConnector,
    as_int,
    as_list,
    http_url,
    iso_datetime,
    keywords,
    licence_note,
    licence_url,
    normalise_doi,
    paragraphs,
    short_hash,
    squash,
    to_datetime,
    truncate,
    unique,
)

WEB = "https://huggingface.co"
PHASES = ("datasets", "models")
ASSET_OF = {"datasets": "datasets", "models": "ml_models"}
MAX_FILES = 100  # distributions kept per model


class HuggingFaceConnector(BaseConnector):
    name = "huggingface"
    platform = "huggingface"
    incremental = True

    def __init__(
        self, base_url: str, viewer_url: str, page_size: int = 100, phases: tuple[str, ...] = PHASES
    ) -> None:
        super().__init__(base_url, page_size)
        self.viewer_url = viewer_url.rstrip("/")
        self.phases = phases

    # ------------------------------------------------------------------ listing

    def pages(self, http: Http, cursor: JSON | None, since: datetime | None) -> Iterator[Page]:
        cursor = cursor or {"phase": self.phases[0], "next": None}
        start = self.phases.index(cursor["phase"]) if cursor["phase"] in self.phases else 0
        for phase in self.phases[start:]:
            url: str | None = cursor.get("next") if phase == cursor["phase"] else None
            params: dict[str, Any] | None = None
            if url is None:
                url = f"{self.base_url}/api/{phase}"
                params = {"full": "true", "limit": self.page_size}
                if since is not None:
                    params.update(sort="lastModified", direction="-1")
            visited: set[str] = set()
            following = phase
            position = self.phases.index(phase)
            after = self.phases[position + 1] if position + 1 < len(self.phases) else "done"
            while url is not None:
                visited.add(url)
                response = http.get(url, params=params)
                listing = response.json()
                if not isinstance(listing, list):
                    raise MappingError(f"expected a JSON list from {url}")
                next_url = response.links.get("next", {}).get("url")
                if next_url in visited:
                    next_url = None  # a paging loop: stop here
                page = Page()
                older = False
                for entry in listing:
                    if not isinstance(entry, dict):
                        continue
                    modified = to_datetime(entry.get("lastModified"))
                    if since is not None and modified is not None and modified < since:
                        older = True
                        continue
                    if entry.get("private") or entry.get("disabled"):
                        page.deletions.append(self.key(ASSET_OF[phase], self._pid(entry)))
                    else:
                        page.entries.append((phase, entry))
                if older:
                    next_url = None
                page.cursor = (
                    {"phase": following, "next": next_url}
                    if next_url
                    else {"phase": after, "next": None}
                )
                yield page
                url, params = next_url, None

    @staticmethod
    def _pid(entry: JSON) -> str:
        return str(entry.get("_id") or entry.get("id"))

    def entry_id(self, entry: Any) -> str:
        phase, data = entry
        return f"{phase}/{data.get('id')}"

    def entry_keys(self, entry: Any) -> list[Key]:
        phase, data = entry
        return [self.key(ASSET_OF[phase], self._pid(data))]

    # ------------------------------------------------------------------ details

    def fetch(self, http: Http, entry: Any) -> Any:
        phase, data = entry
        if phase != "datasets":
            return (phase, data, [])
        response = http.get(
            f"{self.viewer_url}/parquet",
            params={"dataset": data.get("id")},
            ok=(200, 400, 401, 403, 404, 422, 501),
        )
        files: list[Any] = []
        if response.status_code == 200:
            body = response.json()
            files = as_list(body.get("parquet_files")) if isinstance(body, dict) else []
        return (phase, data, files)

    # ------------------------------------------------------------------ mapping

    def map(self, raw: Any) -> list[Item]:
        phase, data, files = raw
        if not data.get("id"):
            raise MappingError("repository without an id")
        if phase == "datasets":
            return [self.map_dataset(data, files)]
        return [self.map_model(data)]

    @staticmethod
    def _card(data: JSON) -> JSON:
        card = data.get("cardData")
        return card if isinstance(card, dict) else {}

    def _licence(self, data: JSON) -> tuple[str | None, JSON | None]:
        value = self._card(data).get("license")
        if isinstance(value, list):
            value = value[0] if value else None
        if value is None:
            tags = [t for t in as_list(data.get("tags")) if isinstance(t, str)]
            value = next((t.split(":", 1)[1] for t in tags if t.startswith("license:")), None)
        url = licence_url(value)
        return url, (None if url else licence_note(self.platform, value))

    @staticmethod
    def _links(data: JSON, kind: str) -> list[str | None]:
        links: list[str | None] = []
        for tag in as_list(data.get("tags")):
            if isinstance(tag, str) and tag.startswith("arxiv:"):
                links.append(f"https://arxiv.org/abs/{tag.split(':', 1)[1]}")
        pwc = squash(data.get("paperswithcode_id"))
        if pwc and kind == "datasets":
            links.append(f"https://paperswithcode.com/dataset/{quote(pwc)}")
        return links

    @staticmethod
    def _tags(data: JSON) -> list[str]:
        return keywords(
            t
            for t in as_list(data.get("tags"))
            if isinstance(t, str) and not t.startswith("region:")
        )

    @staticmethod
    def _gated(data: JSON) -> bool:
        gated = data.get("gated")
        return bool(gated) and gated != "false"

    def map_dataset(self, data: JSON, files: list[Any]) -> Item:
        repo = str(data["id"])
        card = self._card(data)
        licence, note = self._licence(data)
        pretty = squash(card.get("pretty_name"))
        distributions = []
        for parquet in files:
            if not isinstance(parquet, dict) or not http_url(parquet.get("url")):
                continue
            size = as_int(parquet.get("size"))
            distributions.append(
                {
                    "name": squash(parquet.get("filename")),
                    "description": f"{parquet.get('dataset')}. Config: {parquet.get('config')}."
                    f" Split: {parquet.get('split')}",
                    "content_url": http_url(parquet.get("url")),
                    "content_size_kb": size // 1024 if size is not None and size >= 0 else None,
                    "encoding_format": "application/vnd.apache.parquet",
                }
            )
        rows = _example_count(card.get("dataset_info"))
        record = {
            "name": truncate(repo),
            "alternate_name": [pretty] if pretty and pretty != repo else [],
            "description": {"plain": paragraphs(data.get("description"))},
            "same_as": f"{WEB}/datasets/{quote(repo, safe='/')}",
            "date_published": iso_datetime(data.get("createdAt")),
            "license": licence,
            "keyword": self._tags(data),
            "distribution": distributions,
            "is_accessible_for_free": not self._gated(data),
            "size": {"unit": "examples", "value": rows} if rows is not None else None,
            "relevant_link": unique(self._links(data, "datasets")),
            "note": [note] if note else [],
        }
        citations = self.citations(data.get("citation"))
        record["is_referenced_by"] = unique(
            [*self._papers(data), *(c.record.get("pid") for c in citations)]
        )
        return self.item("datasets", self._pid(data), record, {"citation": citations})

    def map_model(self, data: JSON) -> Item:
        repo = str(data["id"])
        licence, note = self._licence(data)
        distributions = []
        for sibling in as_list(data.get("siblings"))[:MAX_FILES]:
            name = sibling.get("rfilename") if isinstance(sibling, dict) else None
            if not isinstance(name, str) or not name:
                continue
            url = f"{WEB}/{quote(repo, safe='/')}/resolve/main/{quote(name, safe='/')}"
            size = as_int(sibling.get("size"))
            distributions.append(
                {
                    "name": name,
                    "content_url": url,
                    "content_size_kb": size // 1024 if size else None,
                }
            )
        record = {
            "name": truncate(repo),
            "description": {
                "plain": paragraphs(self._card(data).get("description") or data.get("description"))
            },
            "same_as": f"{WEB}/{quote(repo, safe='/')}",
            "date_published": iso_datetime(data.get("createdAt")),
            "license": licence,
            "keyword": self._tags(data),
            "type": squash(data.get("pipeline_tag")),
            "distribution": distributions,
            "is_accessible_for_free": not self._gated(data),
            "relevant_link": unique(self._links(data, "models")),
            "is_referenced_by": self._papers(data),
            "trained_on": self._card_repos(data, "datasets", "dataset:", f"{WEB}/datasets/"),
            "is_derived_from": self._card_repos(data, "base_model", "base_model:", f"{WEB}/"),
            "note": [note] if note else [],
        }
        return self.item("ml_models", self._pid(data), record)

    # ------------------------------------------------------------------ links

    @staticmethod
    def _papers(data: JSON) -> list[str]:
        """The papers a repository names: ``arxiv:`` and ``doi:`` tags."""
        out: list[str | None] = []
        for tag in as_list(data.get("tags")):
            if not isinstance(tag, str):
                continue
            if tag.startswith("arxiv:"):
                out.append(f"https://arxiv.org/abs/{quote(tag.split(':', 1)[1].strip())}")
            elif tag.startswith("doi:") and normalise_doi(tag[4:]):
                out.append(f"https://doi.org/{normalise_doi(tag[4:])}")
        return unique(out)

    def _card_repos(self, data: JSON, key: str, tag_prefix: str, web: str) -> list[str]:
        """Repositories a model card names (``datasets``, ``base_model``) and the matching
        tags (``dataset:x``, ``base_model:x``, ``base_model:finetune:x``), as Hub URLs."""
        names = [n for n in as_list(self._card(data).get(key)) if isinstance(n, str)]
        for tag in as_list(data.get("tags")):
            if isinstance(tag, str) and tag.startswith(tag_prefix):
                names.append(tag[len(tag_prefix) :].rsplit(":", 1)[-1])
        out = []
        for name in names:
            repo = name.strip().strip("/")
            if repo and repo.count("/") <= 1 and " " not in repo:
                out.append(http_url(f"{web}{quote(repo, safe='/')}"))
        return unique(out)

    # ------------------------------------------------------------------ citations

    def citations(self, text: Any) -> list[Item]:
        """Publications from a BibTeX citation (or plain citation text)."""
        if not isinstance(text, str) or not text.strip():
            return []
        entries = bibtex.parse(text)
        if not entries:
            first = squash(text.strip().splitlines()[0])
            if not first:
                return []
            return [
                self.item(
                    "publications",
                    f"text:{short_hash(squash(text) or '')}",
                    {
                        "name": truncate(first),
                        "note": [{"value": f"Citation: {text.strip()}"}],
                    },
                )
            ]
        out = []
        for entry in entries:
            title = entry.get("title")
            doi = normalise_doi(entry.get("doi"))
            if not title:
                continue
            if doi:
                resource_id = f"doi:{doi.lower()}"
            else:
                resource_id = f"bibtex:{entry.get('ID', '')}:{short_hash(title.casefold(), 8)}"
            url = http_url(entry.get("url")) or http_url(entry.get("link"))
            eprint = squash(entry.get("eprint"))
            out.append(
                self.item(
                    "publications",
                    resource_id,
                    {
                        "name": truncate(title),
                        "description": {"plain": paragraphs(entry.get("abstract"))},
                        "pid": f"https://doi.org/{doi}" if doi else None,
                        "same_as": url,
                        "type": entry.get("ENTRYTYPE"),
                        "relevant_link": [f"https://arxiv.org/abs/{eprint}"] if eprint else [],
                        "note": [{"value": f"Citation: {_citation_text(entry)}"}],
                    },
                )
            )
        return out


def _citation_text(entry: dict[str, str]) -> str:
    parts = [
        entry.get("author"),
        entry.get("title"),
        entry.get("booktitle") or entry.get("journal"),
        entry.get("year"),
    ]
    return ". ".join(p for p in parts if p)


def _example_count(info: Any) -> int | None:
    """Rows of the (first) config from a dataset card's ``dataset_info``."""
    if isinstance(info, list):
        info = info[0] if info else None
    if not isinstance(info, dict):
        return None
    total = 0
    found = False
    for split in as_list(info.get("splits")):
        count = as_int(split.get("num_examples")) if isinstance(split, dict) else None
        if count is not None and count >= 0:
            total += count
            found = True
    return total if found else None
