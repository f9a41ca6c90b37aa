"""The connector contract: what a connector (``mappings/<platform>.py``) produces and what the
engine asks of it.

``Item`` (one AIoD asset as REST JSON, with the related assets it refers to), ``Key`` (its
identity upstream), ``Page`` (one listing page with its cursor, deletions and errors),
``RecordError``, ``MappingError`` and the ``Connector`` protocol.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from kg.harvest.http import Http

JSON = dict[str, Any]


@dataclass(frozen=True, order=True)
class Key:
    """Identity of a harvested asset: its type and ``(platform, platform_resource_identifier)``."""

    asset: str  # REST collection, e.g. "datasets"
    platform: str
    resource_id: str

    def __str__(self) -> str:
        return f"{self.platform}/{self.asset}/{self.resource_id}"


@dataclass
class Item:
    """One AIoD asset produced by a connector.

    ``refs`` holds the assets this one refers to by a REF field (creator, citation, ...):
    the engine writes them first and puts their identifiers in the field.
    """

    asset: str
    record: JSON
    refs: dict[str, list[Item]] = field(default_factory=dict)

    @property
    def key(self) -> Key:
        return Key(
            self.asset,
            str(self.record["platform"]),
            str(self.record["platform_resource_identifier"]),
        )


class MappingError(Exception):
    """The connector cannot map an upstream record; the message says why."""


@dataclass
class RecordError:
    """Why one upstream record (or page) did not land."""

    record: str  # upstream identifier, or a page URL
    stage: str  # list | fetch | map | validate | write | delete | sweep
    message: str
    problems: list[JSON] = field(default_factory=list)

    def as_dict(self) -> JSON:
        out: JSON = {"record": self.record, "stage": self.stage, "message": self.message}
        if self.problems:
            out["problems"] = self.problems
        return out


@dataclass
class Page:
    """One upstream listing page, as a connector yields it.

    ``cursor`` is where a resumed run starts once this page is written (``None``: keep the
    previous cursor, e.g. for all but the last page of an OAI-PMH window).
    """

    entries: list[Any] = field(default_factory=list)
    cursor: JSON | None = None
    deletions: list[Key] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)
    total: int | None = None  # how many entries the whole listing has, when upstream says


class Connector(Protocol):
    """What the engine needs from a platform connector (see ``mappings.base``)."""

    @property
    def name(self) -> str:
        """``openml``, ``huggingface``, ``zenodo``, ``dcat``."""

    @property
    def source(self) -> str:
        """Identifies the upstream, e.g. ``openml https://www.openml.org/api/v1/json``."""

    @property
    def sweeps(self) -> bool:
        """Whether a run without ``since`` lists every live record of the source."""

    def pages(self, http: Http, cursor: JSON | None, since: datetime | None) -> Iterator[Page]:
        """The listing, from ``cursor`` (``None``: the start) and ``since`` (``None``: all)."""

    def entry_id(self, entry: Any) -> str:
        """A short upstream identifier of a list entry, for the report."""

    def entry_keys(self, entry: Any) -> list[Key]:
        """Keys the entry produces when it maps (kept alive when it fails to)."""

    def fetch(self, http: Http, entry: Any) -> Any:
        """Per-record details (runs in a thread pool); return ``entry`` when none are needed."""

    def map(self, raw: Any) -> list[Item]:
        """AIoD items of one record (``[]``: not an asset we keep). Raise ``MappingError``."""
