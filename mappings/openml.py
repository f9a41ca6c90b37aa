"""OpenML: datasets (``/data``) and flows as ml_models (``/flow``), REST API v1 JSON.

Listing: ``/data/list/limit/{n}/offset/{o}`` and ``/flow/list/limit/{n}/offset/{o}``
(ascending identifiers; past the end OpenML answers HTTP 412 with error code 372). Details:
``/data/{id}``, ``/data/qualities/{id}`` (only when the list entry carries no qualities),
``/flow/{id}``. OpenML has no modification dates in its lists, so every run lists everything
(unchanged records are not rewritten) and datasets that are no longer ``active`` or no longer
listed are deleted.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from kg.harvest.contract import JSON, Item, Key, MappingError, Page
from kg.harvest.http import FetchError, Http
from mappings.base import (
    BaseConnector,
    as_int,
    as_list,
    doi_urls,
    http_url,
    iso_datetime,
    keywords,
    licence_note,
    licence_url,
    paragraphs,
    squash,
    to_datetime,
    truncate,
    unique,
)

WEB = "https://www.openml.org"
PHASES = ("data", "flow")
NO_RESULTS = "372"  # OpenML's error code for a list past its end


class OpenMLConnector(BaseConnector):
    name = "openml"
    platform = "openml"

    def __init__(
        self, base_url: str, page_size: int = 100, phases: tuple[str, ...] = PHASES
    ) -> None:
        super().__init__(base_url, page_size)
        self.phases = phases
        self.since: datetime | None = None

    # ------------------------------------------------------------------ listing

    def pages(self, http: Http, cursor: JSON | None, since: datetime | None) -> Iterator[Page]:
        self.since = since
        cursor = cursor or {"phase": self.phases[0], "offset": 0}
        start = self.phases.index(cursor["phase"]) if cursor["phase"] in self.phases else 0
        for phase in self.phases[start:]:
            offset = int(cursor.get("offset", 0)) if phase == cursor["phase"] else 0
            while True:
                url = f"{self.base_url}/{phase}/list/limit/{self.page_size}/offset/{offset}"
                response = http.get(url, ok=(200, 412))
                body = response.json()
                if response.status_code == 412:
                    code = str((body.get("error") or {}).get("code", ""))
                    if code != NO_RESULTS:
                        raise FetchError(url, 412, f"OpenML error {code}: {body.get('error')}")
                    break
                summaries = self._summaries(phase, body)
                offset += len(summaries)
                page = Page(cursor={"phase": phase, "offset": offset})
                for summary in summaries:
                    status = summary.get("status", "active")
                    if phase == "data" and status != "active":
                        page.deletions.append(self.key("datasets", str(summary.get("did"))))
                    else:
                        page.entries.append((phase, summary))
                yield page
                if len(summaries) < self.page_size:
                    break

    @staticmethod
    def _summaries(phase: str, body: JSON) -> list[JSON]:
        if phase == "data":
            found = (body.get("data") or {}).get("dataset")
        else:
            found = (body.get("flows") or {}).get("flow")
        return [s for s in as_list(found) if isinstance(s, dict)]

    def entry_id(self, entry: Any) -> str:
        phase, summary = entry
        return f"{phase}/{summary.get('did', summary.get('id'))}"

    def entry_keys(self, entry: Any) -> list[Key]:
        phase, summary = entry
        if phase == "data":
            return [self.key("datasets", str(summary["did"]))]
        return [self.key("ml_models", str(summary["id"]))]

    # ------------------------------------------------------------------ details

    def fetch(self, http: Http, entry: Any) -> Any:
        phase, summary = entry
        if phase == "data":
            did = summary["did"]
            description = http.get(f"{self.base_url}/data/{did}").json()
            qualities = summary.get("quality")
            if qualities is None:
                response = http.get(f"{self.base_url}/data/qualities/{did}", ok=(200, 412))
                if response.status_code == 200:
                    qualities = (response.json().get("data_qualities") or {}).get("quality")
            return ("data", summary, description, qualities)
        flow = http.get(f"{self.base_url}/flow/{summary['id']}").json()
        return ("flow", summary, flow, None)

    # ------------------------------------------------------------------ mapping

    def map(self, raw: Any) -> list[Item]:
        phase, summary, body, qualities = raw
        if phase == "data":
            return self.map_dataset(summary, body.get("data_set_description"), qualities)
        return self.map_flow(summary, body.get("flow"))

    def _creators(self, value: Any) -> list[Item]:
        names: list[str] = []
        for entry in as_list(value):
            if isinstance(entry, str):
                names.extend(part for part in entry.split(";"))
        people = [self.person(name) for name in names]
        return [p for p in people if p is not None]

    def map_dataset(self, summary: JSON, data: Any, qualities: Any) -> list[Item]:
        if not isinstance(data, dict):
            raise MappingError("no data_set_description in the response")
        did = str(data.get("id") or summary.get("did"))
        name = squash(data.get("name"))
        if not name:
            raise MappingError("dataset without a name")
        if data.get("status", "active") != "active":
            return []  # deactivated since it was listed: the next full run deletes it
        if self.since is not None:
            uploaded = to_datetime(data.get("upload_date"))
            if uploaded is not None and uploaded < self.since:
                return []
        description = data.get("description")
        if isinstance(description, list):  # OpenML sends [] for "no description"
            description = " ".join(d for d in description if isinstance(d, str))
        quality = {q.get("name"): q.get("value") for q in as_list(qualities) if isinstance(q, dict)}
        instances = as_int(quality.get("NumberOfInstances"))
        fmt = squash(data.get("format"))
        distributions: list[JSON] = []
        url = http_url(data.get("url"))
        if url:
            checksum = squash(data.get("md5_checksum"))
            distributions.append(
                {
                    "name": url.rsplit("/", 1)[-1],
                    "content_url": url,
                    "encoding_format": fmt,
                    "checksum": checksum,
                    "checksum_algorithm": "md5" if checksum else None,
                }
            )
        parquet = http_url(data.get("parquet_url"))
        if parquet:
            distributions.append(
                {
                    "name": parquet.rsplit("/", 1)[-1],
                    "content_url": parquet,
                    "encoding_format": "application/vnd.apache.parquet",
                }
            )
        licence = data.get("licence")
        notes = [licence_note(self.platform, licence) if not licence_url(licence) else None]
        target = squash(data.get("default_target_attribute"))
        if target:
            notes.append({"value": f"Default target attribute: {target}"})
        citation = data.get("citation")
        links = [http_url(data.get("original_data_url")), http_url(data.get("paper_url"))]
        if http_url(citation):
            links.append(http_url(citation))
        elif squash(citation):
            notes.append({"value": f"Citation: {squash(citation)}"})
        record = {
            "name": truncate(name),
            "description": {"plain": paragraphs(description)},
            "same_as": f"{WEB}/d/{did}",
            "date_published": iso_datetime(data.get("upload_date")),
            "version": squash(data.get("version")),
            "license": licence_url(licence),
            "keyword": keywords(as_list(data.get("tag"))),
            "distribution": distributions,
            "is_accessible_for_free": data.get("visibility", "public") == "public",
            "size": {"unit": "instances", "value": instances} if instances is not None else None,
            "relevant_link": unique(links),
            "is_derived_from": [http_url(data.get("original_data_url"))],
            "is_referenced_by": unique(
                [
                    http_url(data.get("paper_url")),
                    *doi_urls(citation if isinstance(citation, str) else None),
                    *doi_urls(description if isinstance(description, str) else None),
                ]
            ),
            "note": [n for n in notes if n],
        }
        creators = self._creators(data.get("creator"))
        return [self.item("datasets", did, record, {"creator": creators})]

    def map_flow(self, summary: JSON, flow: Any) -> list[Item]:
        if not isinstance(flow, dict):
            raise MappingError("no flow in the response")
        flow_id = str(flow.get("id") or summary.get("id"))
        name = squash(flow.get("name")) or squash(summary.get("name"))
        if not name:
            raise MappingError("flow without a name")
        licence = flow.get("licence")
        notes = [licence_note(self.platform, licence) if not licence_url(licence) else None]
        for label, key in (
            ("Installation", "installation_notes"),
            ("Dependencies", "dependencies"),
        ):
            text = squash(flow.get(key))
            if text:
                notes.append({"value": f"{label}: {text}"})
        full_name = squash(summary.get("full_name"))
        record = {
            "name": truncate(name),
            "alternate_name": [full_name] if full_name and full_name != name else [],
            "description": {"plain": paragraphs(flow.get("description"))},
            "same_as": f"{WEB}/f/{flow_id}",
            "date_published": iso_datetime(flow.get("upload_date")),
            "version": squash(flow.get("version")),
            "license": licence_url(licence),
            "keyword": keywords(as_list(flow.get("tag"))),
            "note": [n for n in notes if n],
        }
        return [
            self.item(
                "ml_models", flow_id, record, {"creator": self._creators(flow.get("creator"))}
            )
        ]
