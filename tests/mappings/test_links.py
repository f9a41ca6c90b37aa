"""Link extraction: the typed links each connector reads from what upstream states (model card
datasets and base_model, arXiv / DOI tags, OpenML original_data_url / paper_url, Zenodo
related identifiers, DCAT-AP prov:wasDerivedFrom / dct:references), from the recorded payloads,
and that they survive the catalog's field table (JSON -> RDF -> JSON)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from kg.model.rdf_mapping import IRI, Lit
from mappings.base import doi_urls
from mappings.dcat import DcatConnector
from mappings.huggingface import HuggingFaceConnector
from mappings.openml import OpenMLConnector
from mappings.zenodo import ZenodoConnector
from tests.support.data import REPO

RECORDED = REPO / "api" / "demo" / "recorded"
STYLE = REPO / "api" / "demo" / "recorded_style"


def _hf_models() -> dict[str, Any]:
    models = json.loads((STYLE / "huggingface" / "models.json").read_text())
    return {m["id"]: m for m in models}


def test_huggingface_model_card_datasets_base_model_and_papers() -> None:
    hf = HuggingFaceConnector("https://huggingface.co", "https://datasets-server.huggingface.co")
    bert = hf.map_model(_hf_models()["google-bert/bert-base-uncased"]).record
    assert bert["trained_on"] == [
        "https://huggingface.co/datasets/bookcorpus",
        "https://huggingface.co/datasets/wikipedia",
    ]
    assert bert["is_referenced_by"] == ["https://arxiv.org/abs/1810.04805"]
    tuned = dict(_hf_models()["distilbert/distilbert-base-uncased-finetuned-sst-2-english"])
    tuned["cardData"] = {
        **tuned.get("cardData", {}),
        "base_model": "distilbert/distilbert-base-uncased",
    }
    tuned["tags"] = [*tuned["tags"], "base_model:finetune:distilbert/distilbert-base-uncased"]
    record = hf.map_model(tuned).record
    assert record["is_derived_from"] == [
        "https://huggingface.co/distilbert/distilbert-base-uncased"
    ]
    assert "https://huggingface.co/datasets/glue" in record["trained_on"]


def test_huggingface_dataset_citation_doi_is_a_reference() -> None:
    hf = HuggingFaceConnector("https://huggingface.co", "https://datasets-server.huggingface.co")
    listing = json.loads((RECORDED / "huggingface" / "data_list.json").read_text())
    air = next(d for d in listing if d["id"] == "air_dialogue")
    record = hf.map_dataset(air, []).record
    assert "https://doi.org/10.18653/v1/D18-1419" in record["is_referenced_by"]


def test_openml_original_data_and_paper() -> None:
    openml = OpenMLConnector("https://www.openml.org/api/v1/json")
    body = json.loads((RECORDED / "openml" / "data_3.json").read_text())
    [item] = openml.map_dataset({"did": 3}, body["data_set_description"], [])
    assert item.record["is_derived_from"] == [
        "https://archive.ics.uci.edu/ml/datasets/Chess+(King-Rook+vs.+King-Pawn)"
    ]
    assert item.record["is_referenced_by"] == ["https://dl.acm.org/doi/abs/10.5555/32231"]


def test_dois_anywhere_in_text() -> None:
    text = "See doi:10.1000/xyz123, and (https://doi.org/10.5281/zenodo.42). Not 10.12/short."
    assert doi_urls(text) == [
        "https://doi.org/10.1000/xyz123",
        "https://doi.org/10.5281/zenodo.42",
    ]
    assert doi_urls(None) == []


def test_zenodo_related_identifiers_by_relation_type() -> None:
    zenodo = ZenodoConnector("https://zenodo.org")
    root = ET.fromstring((RECORDED / "zenodo" / "list_records_1.xml").read_bytes())
    records = []
    for resource_id, kind, resource in zenodo._page(root).entries:
        records += [i.record for i in zenodo.map((resource_id, kind, resource, []))]
    supplements = [r for r in records if r.get("references")]
    assert any(
        "https://github.com/kogalab21/all-alpha_design/tree/v0.1.0" in r["references"]
        for r in supplements
    )
    versioned = [r for r in records if r.get("is_version_of")]
    assert versioned and all(
        v.startswith("https://doi.org/10.5281/zenodo.")
        for r in versioned
        for v in r["is_version_of"]
    )


def test_dcat_links() -> None:
    dcat = DcatConnector("https://data.example.org/catalog")
    node = "https://data.example.org/dataset/derived"
    graph = {
        node: {
            "http://purl.org/dc/terms/title": [
                Lit("Derived data", "http://www.w3.org/2001/XMLSchema#string")
            ],
            "http://www.w3.org/ns/prov#wasDerivedFrom": [IRI("https://zenodo.org/records/7")],
            "http://purl.org/dc/terms/isReferencedBy": [IRI("https://doi.org/10.1000/paper")],
        }
    }
    [item] = dcat.map((node, graph))
    assert item.record["is_derived_from"] == ["https://zenodo.org/records/7"]
    assert item.record["is_referenced_by"] == ["https://doi.org/10.1000/paper"]


def test_links_round_trip_through_the_catalog(catalog: Catalog) -> None:
    hf = HuggingFaceConnector("https://huggingface.co", "https://datasets-server.huggingface.co")
    record = hf.map_model(_hf_models()["google-bert/bert-base-uncased"]).record
    models = ASSET_TYPES["ml_models"]
    identifier = catalog.create(models, record)
    stored = catalog.get(models, identifier)
    assert stored["trained_on"] == record["trained_on"]
    assert stored["is_referenced_by"] == record["is_referenced_by"]
    triples = catalog.triples(models, identifier)
    assert any(
        t[1] == "https://w3id.org/fair4ml#trainedOn"
        and t[2] == IRI("https://huggingface.co/datasets/wikipedia")
        for t in triples
    )
