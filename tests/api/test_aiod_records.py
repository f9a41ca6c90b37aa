"""Every real AIoD record in the fixtures round-trips: POST it as the production AIoD API
returned it, GET it back, and every field comes back with the same value (server fields such
as identifiers and dates are the server's own). Also: today's fields (issue 15) and the former
names AIoD renamed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kg.model.fields import PREFIX_TO_TYPE, AssetType
from tests.api.test_rest_roundtrip import normalise
from tests.support.data import AIOD_FIXTURES, AUTH, example_records

# Records recorded from the production AIoD API (not examples): see tests/data/fixtures/SOURCES.md
REAL_RECORD_DIRS = (AIOD_FIXTURES / "sdk_notebook",)


def _real_records() -> list[Any]:
    found = []
    for folder in REAL_RECORD_DIRS:
        for path in sorted(folder.glob("*.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            for i, record in enumerate(data if isinstance(data, list) else [data]):
                found.append(pytest.param(path, record, id=f"{path.stem}-{i}"))
    return found


REAL = _real_records()


def _type_of(record: dict[str, Any]) -> AssetType:
    return PREFIX_TO_TYPE[str(record["identifier"]).partition("_")[0]]


def _server(asset: AssetType) -> set[str]:
    return {f.name for f in asset.fields if f.server}


@pytest.fixture
def client(client: TestClient) -> TestClient:
    client.headers.update(AUTH)
    return client


def test_there_are_real_records() -> None:
    assert len(REAL) >= 1


@pytest.mark.parametrize(("path", "record"), REAL)
def test_real_record_round_trips(client: TestClient, path: Path, record: dict[str, Any]) -> None:
    asset = _type_of(record)
    response = client.post(f"/{asset.collection}", json=record)
    assert response.status_code == 200, response.text
    identifier = response.json()["identifier"]
    got = client.get(f"/{asset.collection}/{identifier}").json()

    # the same fields: every field sent comes back; anything else the server adds is empty
    assert set(record) <= set(got), sorted(set(record) - set(got))
    assert all(got[k] in ([], None) for k in set(got) - set(record)), sorted(set(got) - set(record))
    assert set(record["aiod_entry"]) <= set(got["aiod_entry"])
    # ... with the same values, but for what the server sets
    server = _server(asset)
    sent = {k: v for k, v in record.items() if k not in server and k != "aiod_entry"}
    back = {k: v for k, v in got.items() if k in sent}
    assert normalise(back) == normalise(sent)
    assert got["aiod_entry"]["status"] == record["aiod_entry"]["status"]
    for name in ("identifier", "ai_resource_identifier", "agent_identifier"):
        if name in record:
            assert got[name] == identifier


def _post(client: TestClient, collection: str, record: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/{collection}", json=record)
    assert response.status_code == 200, response.text
    got = client.get(f"/{collection}/{response.json()['identifier']}")
    assert got.status_code == 200
    return dict(got.json())


def test_todays_fields_are_kept(client: TestClient) -> None:
    person = _post(client, "persons", {**example_records("persons")[0], "aiod_entry": {}})
    org = _post(
        client,
        "organisations",
        {
            **example_records("organisations")[0],
            "turnover": ">50 million euros",
            "number_of_employees": "<10",
            "falls_under_paradigm": ["Explainable AI"],
            "relevant_to": [person["identifier"]],
        },
    )
    assert org["turnover"] == ">50 million euros" and org["number_of_employees"] == "<10"
    assert org["falls_under_paradigm"] == ["Explainable AI"]
    assert org["relevant_to"] == [person["identifier"]]
    team = _post(
        client,
        "teams",
        {
            **example_records("teams")[0],
            "organisation": org["identifier"],
            "member": [person["identifier"]],
        },
    )
    assert team["organisation"] == org["identifier"] and team["member"] == [person["identifier"]]
    computer = _post(
        client,
        "computational_assets",
        {
            **example_records("computational_assets")[0],
            "os": "Linux",
            "cpu": [{"num_cpu_cores": 64, "architecture": "x86_64", "clock_speed": 3.2}],
            "memory": [{"type": "RAM", "amount_gb": 512}],
            "accelerator": [{"vendor": "NVIDIA", "type": "GPU", "memory": 80, "cores": 6912}],
            "storage": [{"type": "SSD", "amount": 4096, "read_bandwidth": 3000}],
        },
    )
    assert computer["cpu"] == [{"num_cpu_cores": 64, "architecture": "x86_64", "clock_speed": 3.2}]
    assert computer["accelerator"][0]["memory"] == 80
    assert computer["storage"][0]["amount"] == 4096


def test_former_names_still_work_on_input(client: TestClient) -> None:
    person = _post(client, "persons", {"name": "Ada", "language": ["eng"], "member_of": []})
    assert person["languages"] == ["eng"] and "language" not in person
    project = _post(
        client,
        "projects",
        {"name": "P", "total_cost_euro": 1000, "participant": [], "produced": [], "used": []},
    )
    assert project["total_cost_euros"] == 1000 and "total_cost_euro" not in project


def test_unknown_fields_are_still_refused(client: TestClient) -> None:
    response = client.post("/persons", json={"name": "x", "not_an_aiod_field": 1})
    assert response.status_code == 422
    assert "not_an_aiod_field" in response.text
