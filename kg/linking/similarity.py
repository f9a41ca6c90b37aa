"""How alike two records without a shared strong identifier are: a score in [0, 1] from
name, description, creators and files, each weighted (``WEIGHTS``) over the features both
records have. rapidfuzz does the string comparison.

Negative evidence (bench/linking.py): names that differ by a variant token (cased / uncased,
base / large, v1 / v2, 7b / 13b, ...) or by their numbers (cifar10 / cifar100) name different
works, however alike the rest is: the score is multiplied by ``CONFLICT_FACTOR``. File names
every model repository has (config.json, model.safetensors, ...) are no evidence."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz

from kg.linking.extract import normalise_name

WEIGHTS = {"name": 0.45, "description": 0.3, "creators": 0.1, "files": 0.15}
CONFLICT_FACTOR = 0.6
VARIANT = re.compile(
    r"^(cased|uncased|base|large|small|tiny|mini|medium|big|xl|xxl|xxxl|huge|giant|lite|"
    r"full|distilled|instruct|chat|it|raw|clean|balanced|v\d+|\d+(\.\d+)?[kmbt])$"
)
GENERIC_FILES = frozenset(
    f"name:{n}"
    for n in (
        "config.json",
        "readme.md",
        ".gitattributes",
        "model.safetensors",
        "pytorch_model.bin",
        "tf_model.h5",
        "flax_model.msgpack",
        "rust_model.ot",
        "model.onnx",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "vocab.txt",
        "vocab.json",
        "merges.txt",
        "generation_config.json",
        "preprocessor_config.json",
        "sentencepiece.bpe.model",
        "spiece.model",
        "added_tokens.json",
        "model_index.json",
        "license",
        "license.txt",
        "data.csv",
        "train.csv",
        "test.csv",
        "dataset_info.json",
        "dataset.csv",
    )
)


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


def name_similarity(a: str, b: str) -> float:
    """The better of the token-sorted ratio and the ratio without spaces (a typo may move a
    separator: ``mfeat-fourier`` / ``mfea-tfourier``)."""
    na, nb = normalise_name(a), normalise_name(b)
    joined = fuzz.ratio(na.replace(" ", ""), nb.replace(" ", ""))
    return max(fuzz.token_sort_ratio(na, nb), joined) / 100


@lru_cache(maxsize=65536)
def _name_parts(name: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """A name's numbers, in order, and its tokens (normalised)."""
    normalised = normalise_name(name)
    return tuple(re.findall(r"\d+", normalised)), frozenset(normalised.split())


def conflict(a: str, b: str) -> bool:
    """Whether two names differ by a variant token or by their numbers."""
    (numbers_a, tokens_a), (numbers_b, tokens_b) = _name_parts(a), _name_parts(b)
    if numbers_a != numbers_b:
        return True
    return any(VARIANT.match(t) for t in tokens_a ^ tokens_b)


def name_bound(a: str, b: str) -> float:
    """The highest ``score`` two records with these names can get, whatever the rest: every
    other feature counted present and identical (a part with value 1 can only raise a
    weighted mean of values <= 1), the name-only discount left out, the conflict factor kept.
    Cheap (names only), so that most candidates are dropped before their features are read."""
    rest = 1.0 - WEIGHTS["name"]
    bound = WEIGHTS["name"] * name_similarity(a, b) + rest
    return bound * CONFLICT_FACTOR if conflict(a, b) else bound


def score(a: Candidate, b: Candidate) -> tuple[float, dict[str, float]]:
    """The weighted score and each feature's similarity (the evidence of a proposal)."""
    parts: dict[str, float] = {"name": name_similarity(a.name, b.name)}
    if a.description and b.description:
        parts["description"] = (
            fuzz.token_set_ratio(a.description[:1000], b.description[:1000]) / 100
        )
    if a.creators and b.creators:
        parts["creators"] = _jaccard(a.creators, b.creators)
    if any(f.startswith("sha:") for f in a.files & b.files):
        parts["files"] = 1.0  # the same content
    else:
        mine, theirs = a.files - GENERIC_FILES, b.files - GENERIC_FILES
        if mine and theirs:
            parts["files"] = _jaccard(mine, theirs)
    total = sum(WEIGHTS[k] for k in parts)
    value = sum(WEIGHTS[k] * v for k, v in parts.items()) / total
    if "description" not in parts and "files" not in parts:
        value *= 0.9  # a name alone is weak evidence
    if conflict(a.name, b.name):
        value *= CONFLICT_FACTOR
        parts["name_conflict"] = 1.0
    return round(value, 4), {k: round(v, 3) for k, v in parts.items()}
