"""The compiled SHACL engine and pyshacl (the reference) find the same problems.

Records: every example resource, plus systematic mutations (wrong datatypes, missing required
fields, bad enum values, patterns, ranges, too many values) of each.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from kg.model.fields import ASSET_TYPES, AssetType, Kind
from kg.model.rdf_mapping import asset_iri, asset_to_triples
from kg.model.validation import compile_shapes, validate_conversions
from tests.support.data import example_records

BASE = "http://127.0.0.1:8000"
WRONG_VALUES: dict[Kind, list[Any]] = {
    Kind.STRING: [5, True, 1.5],
    Kind.IRI: ["not a url", "relative/path", 3],
    Kind.DATETIME: ["yesterday", "2020-13-01T00:00:00", 20200101],
    Kind.DATE: ["2020-02-30x", "01/02/2020"],
    Kind.INTEGER: ["twelve", 1.5, False],  # numeric strings are accepted, as by pydantic
    Kind.DECIMAL: ["one and a half", True],
    Kind.BOOLEAN: ["yes", 1],
    Kind.REF: ["someone"],
}


def _mutations(asset: AssetType, record: dict[str, Any], rng: random.Random) -> list[dict]:
    out = []
    for fld in asset.fields:
        if fld.server or fld.kind in (Kind.NODE, Kind.NEST):
            continue
        for wrong in WRONG_VALUES.get(fld.kind, []):
            mutated = copy.deepcopy(record)
            mutated[fld.name] = [wrong] if fld.many else wrong
            out.append(mutated)
        if fld.enum:
            mutated = copy.deepcopy(record)
            mutated[fld.name] = ["not-in-enum"] if fld.many else "not-in-enum"
            out.append(mutated)
        if fld.required:
            mutated = copy.deepcopy(record)
            mutated.pop(fld.name, None)
            out.append(mutated)
        if fld.min_value is not None:
            mutated = copy.deepcopy(record)
            mutated[fld.name] = [-5] if fld.many else -5
            out.append(mutated)
    if "distribution" in asset.by_name:
        mutated = copy.deepcopy(record)
        mutated["distribution"] = [{"name": "no url", "content_size_kb": -1, "checksum": "xyz!"}]
        out.append(mutated)
    if "aiod_entry" in asset.by_name:
        mutated = copy.deepcopy(record)
        mutated["aiod_entry"] = {"status": "unknown"}
        out.append(mutated)
    rng.shuffle(out)
    return out[:25]


def _findings(asset: AssetType, record: dict[str, Any], engine: str) -> list[tuple[str, str]]:
    iri = asset_iri(BASE, asset, f"{asset.prefix}_{'A' * 24}")
    server = {"identifier": f"{asset.prefix}_{'A' * 24}"}
    conversion = asset_to_triples(asset, record, iri, BASE, server)
    problems = validate_conversions([conversion], engine=engine).get(iri, [])
    return sorted((p.field, p.message) for p in problems)


@pytest.mark.parametrize("collection", list(ASSET_TYPES))
def test_engines_agree(collection: str) -> None:
    asset = ASSET_TYPES[collection]
    records = example_records(collection) or [{"name": "example"}]
    rng = random.Random(collection)
    for record in records:
        assert _findings(asset, record, "compiled") == _findings(asset, record, "pyshacl") == []
        for mutated in _mutations(asset, record, rng):
            compiled = _findings(asset, mutated, "compiled")
            reference = _findings(asset, mutated, "pyshacl")
            assert compiled == reference, mutated
            assert compiled, f"mutation not caught: {mutated}"


def test_batch_validation_attributes_problems_to_the_right_record() -> None:
    asset = ASSET_TYPES["datasets"]
    conversions = []
    for i in range(50):
        record: dict[str, Any] = {
            "name": f"d{i}",
            "platform": "p",
            "platform_resource_identifier": str(i),
        }
        if i % 7 == 0:
            record["date_published"] = "bad"
        iri = asset_iri(BASE, asset, f"data_{i:024d}")
        conversions.append(asset_to_triples(asset, record, iri, BASE))
    for engine in ("compiled", "pyshacl"):
        problems = validate_conversions(conversions, engine=engine)
        assert sorted(problems) == sorted(c.iri for i, c in enumerate(conversions) if i % 7 == 0)
        assert all(p[0].field == "date_published" for p in problems.values())


def test_compiled_engine_refuses_unsupported_shapes(tmp_path: Any) -> None:
    from kg.model.validation import UnsupportedShape, load_shapes

    (tmp_path / "x.ttl").write_text(
        "@prefix sh: <http://www.w3.org/ns/shacl#> .\n"
        "<urn:s> a sh:NodeShape ; sh:targetClass <urn:C> ;\n"
        "  sh:property [ sh:path <urn:p> ; sh:lessThan <urn:q> ] .\n"
    )
    load_shapes.cache_clear()
    compile_shapes.cache_clear()
    with pytest.raises(UnsupportedShape):
        compile_shapes(tmp_path)
    load_shapes.cache_clear()
    compile_shapes.cache_clear()
