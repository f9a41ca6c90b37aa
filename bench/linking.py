"""Linking quality and cost: ``python -m bench.linking [--scale N]``.

A labelled set built from the recorded payloads (api/demo/recorded*/: Hugging Face, OpenML,
Zenodo datasets mapped by their connectors) plus variants with known truth: a copy on another
platform with the same DOI / canonical URL (strong), a re-upload with a typo in the name, a
renamed copy with the same files, a copy with a reworded description (proposed). Prints the
precision / recall of strong sameAs links and of proposed duplicates, link claims extracted per
connector, and the linking cost per asset (``--scale`` adds synthetic distinct assets).
"""

from __future__ import annotations

import argparse
import json
import random
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from bench.machine import describe
from kg.linking.extract import CLAIM_FIELDS
from kg.linking.index import LinkIndex
from kg.linking.linker import Linker
from mappings.huggingface import HuggingFaceConnector
from mappings.openml import OpenMLConnector
from mappings.zenodo import ZenodoConnector

REPO = Path(__file__).resolve().parents[1]
REC, STYLE = REPO / "api/demo/recorded", REPO / "api/demo/recorded_style"


def recorded() -> dict[str, list[dict[str, Any]]]:
    hf = HuggingFaceConnector("https://huggingface.co", "https://x")
    om = OpenMLConnector("https://www.openml.org/api/v1/json")
    zen = ZenodoConnector("https://zenodo.org")
    out: dict[str, list[dict[str, Any]]] = {"huggingface": [], "openml": [], "zenodo": []}
    for d in json.loads((STYLE / "huggingface/datasets.json").read_text()):
        out["huggingface"].append({**hf.map_dataset(d, []).record, "kind": "datasets"})
    for m in json.loads((STYLE / "huggingface/models.json").read_text()):
        out["huggingface"].append({**hf.map_model(m).record, "kind": "ml_models"})
    for path in sorted([*STYLE.glob("openml/data_*.json"), *REC.glob("openml/data_?.json")]):
        body = json.loads(path.read_text()).get("data_set_description")
        for item in om.map_dataset({"did": body.get("id")}, body, []) if body else []:
            out["openml"].append({**item.record, "kind": "datasets"})
    for path in sorted(REC.glob("zenodo/list_records_*.xml")):
        for rid, kind, res in zen._page(ET.fromstring(path.read_bytes())).entries:
            for item in zen.map((rid, kind, res, [])):
                out["zenodo"].append({**item.record, "kind": item.asset})
    return out


def typo(name: str, rng: random.Random) -> str:
    i = rng.randrange(1, max(2, len(name) - 1))
    return name[: i - 1] + name[i] + name[i - 1] + name[i + 1 :] if len(name) > 3 else name + "s"


def build(
    rng: random.Random,
) -> tuple[list[dict[str, Any]], set[frozenset[str]], set[frozenset[str]]]:
    """Records (with ``id``), strong pairs and proposed (no strong key) pairs."""
    base = [r for rs in recorded().values() for r in rs]
    records, strong, proposed = [], set(), set()
    for n, r in enumerate(base):
        r = {**r, "id": f"b{n}"}
        records.append(r)
        if r["kind"] != "datasets" or n % 2:
            continue
        text = (r.get("description") or {}).get("plain") or ""
        key = r.get("pid") or r.get("same_as")
        mirror = {
            "id": f"s{n}",
            "kind": "datasets",
            "name": r["name"].split("/")[-1],
            "platform": "dcat-mirror",
            "platform_resource_identifier": f"s{n}",
            "same_as": key,
            "description": {"plain": text},
        }
        records.append(mirror)
        strong.add(frozenset((r["id"], mirror["id"])))
        if n % 4 == 0 and len(text) > 40:
            dup = {
                "id": f"t{n}",
                "kind": "datasets",
                "name": typo(r["name"].split("/")[-1], rng),
                "platform": "reupload",
                "platform_resource_identifier": f"t{n}",
                "description": {"plain": text.replace(".", ";", 1)},
                "distribution": r.get("distribution", []),
            }
            records.append(dup)
            proposed.update({frozenset((r["id"], dup["id"])), frozenset((mirror["id"], dup["id"]))})
    return records, strong, proposed


def pr(found: set[frozenset[str]], truth: set[frozenset[str]]) -> tuple[float, float]:
    hits = len(found & truth)
    return (hits / len(found) if found else 1.0, hits / len(truth) if truth else 1.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=0, help="extra synthetic distinct assets")
    args = parser.parse_args()
    rng = random.Random(18)
    records, strong, proposed = build(rng)
    for n in range(args.scale):
        records.append(
            {
                "id": f"x{n}",
                "kind": "datasets",
                "platform": "synthetic",
                "platform_resource_identifier": str(n),
                "name": f"synthetic set {n} {rng.random():.6f}",
                "same_as": f"https://example.org/d/{n}",
                "description": {"plain": f"Synthetic record number {n}."},
            }
        )
    linker = Linker(LinkIndex(None), "http://bench")
    started = time.perf_counter()
    for r in records:
        data = {k: v for k, v in r.items() if k not in ("id", "kind")}
        linker.update(r["kind"], r["id"], data)
    elapsed = time.perf_counter() - started
    ids = [r["id"] for r in records]
    found_strong = {frozenset((i, s.identifier)) for i in ids for s in linker.same_work(i)}
    found_proposed = {frozenset(d["identifiers"]) for d in linker.duplicates(limit=100_000)}
    claims: dict[str, int] = {}
    for r in records:
        if r["id"].startswith("b"):
            claims[r["platform"]] = claims.get(r["platform"], 0) + sum(
                len(r.get(f) or []) for f in CLAIM_FIELDS
            )
    resolved = sum(len(linker.resolved(i)) for i in ids)
    p, rc = pr(found_strong, strong)
    pp, rp = pr(found_proposed, proposed)
    print(describe())
    print(f"records {len(records)}: strong pairs {len(strong)}, proposed pairs {len(proposed)}")
    print(f"strong sameAs: precision {p:.3f} recall {rc:.3f} ({len(found_strong)} found)")
    print(f"proposed duplicates: precision {pp:.3f} recall {rp:.3f} ({len(found_proposed)} found)")
    print(f"link claims per connector: {claims}; resolved in the set: {resolved}")
    print(
        f"cost: {elapsed / len(records) * 1e3:.2f} ms per asset",
        f"({len(records) / elapsed:.0f} assets/s)",
    )


if __name__ == "__main__":
    main()
