"""Linking quality and cost: ``python -m bench.linking [--scale N] [--enrichment]``.

A labelled set built from the recorded payloads (api/demo/recorded*/: Hugging Face, OpenML,
Zenodo datasets mapped by their connectors) plus variants with known truth: a copy on another
platform with the same DOI / canonical URL (strong), a re-upload with a typo in the name, a
renamed copy with the same files, a copy with a reworded description (proposed). Prints the
precision / recall of strong sameAs links and of proposed duplicates, link claims extracted per
connector, and the linking cost per asset (``--scale`` adds synthetic distinct assets).

Cost at scale (issue 18): what the derived graphs add to each asset written -- linking (link
index, blocking, duplicate scoring), quality (MQA assessment) and enrichment (the MiniLM
suggestions, batched as kg.enrichment's thread does, plus storing them) -- in us per asset at
the size reached, extrapolated to 1,000,000 assets and compared with the ingest cost
(docs/benchmarks.md: 272 assets/s on the validated path). The store writes of the derived
graphs are not included (the catalog's store write per graph is part of the ingest figure).

``--enrichment``: the suggestion threshold on real records, the 186 TFDS cards of
tests/data/search-eval whose data-type tags name a research area (image/video/3d -> Computer
Vision or Perception, audio -> Audio/Speech Processing or Perception, text -> Natural Language
Processing or Communication): for each floor, how many cards get a research area and how often
the best one is the tags' (a strict label: "Machine Learning" counts as wrong).
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
from kg.enrichment.book import BATCH, SuggestionBook
from kg.enrichment.suggester import THRESHOLDS, Suggester, text_of
from kg.linking.extract import CLAIM_FIELDS
from kg.linking.index import LinkIndex
from kg.linking.linker import Linker
from kg.model.fields import ASSET_TYPES
from kg.quality.book import QualityBook
from mappings.huggingface import HuggingFaceConnector
from mappings.openml import OpenMLConnector
from mappings.zenodo import ZenodoConnector

REPO = Path(__file__).resolve().parents[1]
REC, STYLE = REPO / "api/demo/recorded", REPO / "api/demo/recorded_style"
CARDS = REPO / "tests/data/search-eval/corpus.jsonl"
INGEST_MS = 1000 / 272  # validated ingest per asset, docs/benchmarks.md
TAG_AREAS = {
    "image": {"Computer Vision", "Perception"},
    "video": {"Computer Vision", "Perception"},
    "3d": {"Computer Vision", "Perception"},
    "audio": {"Audio Processing", "Speech Processing", "Perception"},
    "text": {"Natural Language Processing", "Communication"},
}


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


def cards() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CARDS.read_text(encoding="utf-8").splitlines()]


def expected_areas(card: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for tag in card["tags"]:
        if tag.startswith("content.data-type."):
            out |= TAG_AREAS.get(tag.rsplit(".", 1)[-1], set())
        if "speech" in tag:
            out.add("Speech Processing")
        if "reinforcement" in tag:
            out.add("Reinforcement Learning")
    return out


def enrichment_thresholds() -> None:
    suggester = Suggester()
    records = cards()
    texts = [
        text_of({"name": c["name"], "description": {"plain": c["description"]}}) for c in records
    ]
    scores = suggester.similarities(texts)
    areas = [j for j, t in enumerate(suggester.terms) if t.field == "research_area"]
    print(f"enrichment threshold on {len(records)} TFDS cards (research areas):")
    for floor in (0.3, 0.35, 0.4, 0.45, 0.5):
        kept = judged = right = 0
        for row, card in zip(scores, records, strict=True):
            best = max(areas, key=lambda j: row[j])
            if row[best] < floor:
                continue
            kept += 1
            wanted = expected_areas(card)
            if wanted:
                judged += 1
                right += suggester.terms[best].term in wanted
        mark = " <- THRESHOLDS" if abs(floor - THRESHOLDS["research_area"]) < 1e-9 else ""
        print(
            f"  floor {floor:.2f}: {kept} cards with a suggestion, best one the tags' area "
            f"{right / max(judged, 1):.0%} of {judged}{mark}"
        )


def cost(records: list[dict[str, Any]], linker: Linker, link_us: tuple[float, float]) -> None:
    """Quality and enrichment on the records the linker indexed; the figures per asset."""
    quality = QualityBook(linker.index, "http://bench")
    started, cpu = time.perf_counter(), time.process_time()
    for r in records:
        quality.update(r["kind"], r["id"], {k: v for k, v in r.items() if k not in ("id", "kind")})
    quality_us = (time.perf_counter() - started) / len(records) * 1e6
    quality_cpu = (time.process_time() - cpu) / len(records) * 1e6

    book = SuggestionBook(linker.index, "http://bench")
    sample = cards()[:512]
    items = [
        (ASSET_TYPES["datasets"], {"name": c["name"], "description": {"plain": c["description"]}})
        for c in sample
    ]
    assert len(book.suggester.term_vectors)  # the terms' vectors: once per process
    started, cpu = time.perf_counter(), time.process_time()
    found = []
    for start in range(0, len(items), BATCH):
        found += book.suggester.suggest_many(items[start : start + BATCH])
    model_us = (time.perf_counter() - started) / len(items) * 1e6
    model_cpu = (time.process_time() - cpu) / len(items) * 1e6  # every torch thread
    started = time.perf_counter()
    for n, r in enumerate(records):
        data = {k: v for k, v in r.items() if k not in ("id", "kind")}
        book._store(r["kind"], r["id"], data, found[n % len(found)])
    store_us = (time.perf_counter() - started) / len(records) * 1e6

    link_all, link_last = link_us
    per_asset = link_last + quality_us + model_us + store_us
    print(f"cost per asset at {len(records)} assets (us):")
    print(f"  linking {link_all:.0f} on average, {link_last:.0f} for the last tenth")
    print(f"  quality {quality_us:.0f} (CPU {quality_cpu:.0f})")
    print(
        f"  enrichment: model {model_us:.0f} (CPU of all its threads {model_cpu:.0f}; batches of "
        f"{BATCH}), storing {store_us:.0f}"
    )
    print(
        f"  together {per_asset:.0f} us = {per_asset / 1000 / INGEST_MS:.0%} of the validated "
        f"ingest ({INGEST_MS * 1000:.0f} us/asset); without the model "
        f"{(per_asset - model_us) / 1000 / INGEST_MS:.0%}"
    )
    hours = per_asset / 3600  # us per asset x 1e6 assets = seconds; / 3600
    print(
        f"  1,000,000 assets at these rates: {hours:.1f} h in the background "
        f"({(per_asset - model_us) / 60:.0f} min of it linking, quality and storing, with the "
        "linking rate of the last tenth, which grows with the index)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=0, help="extra synthetic distinct assets")
    parser.add_argument(
        "--enrichment", action="store_true", help="the suggestion threshold on real records"
    )
    args = parser.parse_args()
    if args.enrichment:
        print(describe())
        enrichment_thresholds()
        return
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
    tenth = len(records) - max(1, len(records) // 10)
    last_started = started
    for n, r in enumerate(records):
        if n == tenth:
            last_started = time.perf_counter()
        data = {k: v for k, v in r.items() if k not in ("id", "kind")}
        linker.update(r["kind"], r["id"], data)
    elapsed = time.perf_counter() - started
    last_us = (time.perf_counter() - last_started) / (len(records) - tenth) * 1e6
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
    cost(records, linker, (elapsed / len(records) * 1e6, last_us))


if __name__ == "__main__":
    main()
