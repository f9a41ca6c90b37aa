"""How alike two records without a shared strong identifier are: a score in [0, 1] from
name, description, creators and files, each weighted (``WEIGHTS``) over the features both
records have. rapidfuzz does the string comparison."""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz

from kg.linking.extract import normalise_name

WEIGHTS = {"name": 0.45, "description": 0.3, "creators": 0.1, "files": 0.15}


@dataclass(frozen=True)
class Candidate:
    """The features of one record as the link index keeps them."""

    identifier: str
    name: str
    description: str
    creators: frozenset[str]  # normalised creator names
    files: frozenset[str]


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def score(a: Candidate, b: Candidate) -> tuple[float, dict[str, float]]:
    """The weighted score and each feature's similarity (the evidence of a proposal)."""
    parts: dict[str, float] = {
        "name": fuzz.token_sort_ratio(normalise_name(a.name), normalise_name(b.name)) / 100
    }
    if a.description and b.description:
        parts["description"] = (
            fuzz.token_set_ratio(a.description[:1000], b.description[:1000]) / 100
        )
    if a.creators and b.creators:
        parts["creators"] = _jaccard(a.creators, b.creators)
    if a.files and b.files:
        shared = a.files & b.files
        parts["files"] = (
            1.0 if any(f.startswith("sha:") for f in shared) else _jaccard(a.files, b.files)
        )
    total = sum(WEIGHTS[k] for k in parts)
    value = sum(WEIGHTS[k] * v for k, v in parts.items()) / total
    if "description" not in parts and "files" not in parts:
        value *= 0.9  # a name alone is weak evidence
    return round(value, 4), {k: round(v, 3) for k, v in parts.items()}
