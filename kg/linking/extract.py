"""What the linker reads from one asset (AIoD JSON): its own strong keys (``pid``,
``same_as``, ``permanent_identifier``), the links it claims (the typed link fields of the field
table, and ``relevant_link`` as ``dct:relation``) and the features duplicates are scored on
(name, description, creators, files)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from kg.linking.identifiers import keys_of
from kg.model.fields import LINKS, AssetType

JSON = dict[str, Any]
OWN = ("pid", "same_as", "permanent_identifier")
DCT_RELATION = "http://purl.org/dc/terms/relation"
CLAIM_FIELDS = (*(f.name for f in LINKS), "trained_on")
MAX_CLAIMS = 200


@dataclass
class Claim:
    predicate: str  # full IRI of the relation
    key: str  # strong key of the target
    target: str  # the IRI as the record states it
    field: str


@dataclass
class Features:
    identifier: str
    type: str
    platform: str
    name: str
    description: str = ""
    creators: list[str] = field(default_factory=list)  # creator identifiers
    files: list[str] = field(default_factory=list)  # "sha:<checksum>" and "name:<file name>"
    keys: list[str] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)


@lru_cache(maxsize=65536)  # a record's name is compared with up to a hundred candidates
def normalise_name(name: str) -> str:
    """Lower case, accents and punctuation dropped, an ``owner/`` prefix dropped."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    text = text.rsplit("/", 1)[-1]
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return " ".join(text.split())


def features(asset: AssetType, identifier: str, data: JSON) -> Features:
    description = data.get("description") or {}
    text = description.get("plain") or description.get("html") or ""
    files = []
    for dist in data.get("distribution") or []:
        if dist.get("checksum"):
            files.append(f"sha:{str(dist['checksum']).lower()}")
        if dist.get("name"):
            files.append(f"name:{str(dist['name']).lower()}")
    keys = [k for name in OWN for k in keys_of(_str(data.get(name)))]
    claims: list[Claim] = []
    for name in (*CLAIM_FIELDS, "relevant_link"):
        spec = asset.by_name.get(name)
        if spec is None:
            continue
        predicate = DCT_RELATION if name == "relevant_link" else spec.iri
        for target in data.get(name) or []:
            for key in keys_of(_str(target)):
                if key not in keys:
                    claims.append(Claim(predicate, key, str(target), name))
    return Features(
        identifier,
        asset.collection,
        str(data.get("platform") or ""),
        str(data.get("name") or ""),
        str(text)[:2000],
        [str(c) for c in data.get("creator") or []],
        files[:50],
        list(dict.fromkeys(keys)),
        claims[:MAX_CLAIMS],
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
