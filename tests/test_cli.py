"""The ``aiod-kg`` command line: import, export, validate, generate, rebuild-index."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from rdflib import Dataset, Graph

from tests.conftest import EXAMPLES, REPO


def run(*args: str, store: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {"AIOD_KG_STORE": str(store), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_import_export_round_trip(tmp_path: Path) -> None:
    store = tmp_path / "store"
    out = run(
        "import", str(EXAMPLES / "datasets.json"), str(EXAMPLES / "events.json"), store=store
    ).stdout
    assert out.count("data_") == 1 and out.count("evnt_") == 3
    # importing again upserts: same identifiers, nothing new
    again = run("import", str(EXAMPLES / "datasets.json"), store=store).stdout
    assert again.split(": ")[1].strip() == out.splitlines()[0].split(": ")[1].strip()

    nquads = run("export", "--format", "nquads", store=store).stdout
    dataset = Dataset()
    dataset.parse(data=nquads, format="nquads")
    assert len(list(dataset.graphs())) >= 4

    exported = json.loads(run("export", "--format", "json", store=store).stdout)
    assert len(exported["events"]) == 3 and len(exported["datasets"]) == 1

    turtle_file = tmp_path / "dataset.ttl"
    turtle_file.write_text(
        run("export", "--format", "turtle", "--type", "datasets", store=store).stdout
    )
    assert len(Graph().parse(turtle_file, format="turtle")) > 20
    other = tmp_path / "other"
    imported = run("import", str(turtle_file), "--type", "datasets", store=other).stdout
    assert imported.count("data_") == 1


def test_import_reports_bad_records_and_fails(tmp_path: Path) -> None:
    bad = tmp_path / "datasets.json"
    bad.write_text(
        json.dumps(
            [{"name": "ok", "platform": "x", "platform_resource_identifier": "1"}, {"name": 5}]
        )
    )
    result = run("import", str(bad), store=tmp_path / "s", check=False)
    assert result.returncode == 1
    assert "[1]: name: Expected a string." in result.stderr
    assert "[0]: data_" in result.stdout


@pytest.mark.parametrize("engine", ["pyshacl", "compiled"])
def test_validate(tmp_path: Path, engine: str) -> None:
    good = run("validate", "--engine", engine, str(EXAMPLES / "persons.json"), store=tmp_path / "s")
    assert "valid person" in good.stdout
    bad = tmp_path / "persons.json"
    bad.write_text(json.dumps({"name": "x", "language": ["english"]}))
    result = run("validate", "--engine", engine, str(bad), store=tmp_path / "s", check=False)
    assert result.returncode == 1
    assert "language[0]" in result.stdout


def test_generate_is_idempotent(tmp_path: Path) -> None:
    for folder in ("shapes", "ontology", "docs"):
        (tmp_path / folder).mkdir()
    (tmp_path / "ontology" / "aiod.ttl").write_bytes((REPO / "ontology" / "aiod.ttl").read_bytes())
    run("generate", "--root", str(tmp_path), store=tmp_path / "s")
    for name in (
        "shapes/asset.ttl",
        "shapes/common.ttl",
        "ontology/context.jsonld",
        "docs/mapping.md",
    ):
        assert (tmp_path / name).read_text() == (REPO / name).read_text(), name


def test_rebuild_index(tmp_path: Path) -> None:
    store = tmp_path / "store"
    run("import", str(EXAMPLES / "projects.json"), store=store)
    assert "indexed 1 assets" in run("rebuild-index", store=store).stdout
