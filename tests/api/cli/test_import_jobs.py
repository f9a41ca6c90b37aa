"""``aiod-kg import --jobs N``: a bulk import with worker processes (kg/bulk.py) reports
every record at its position in its file, as the one-process import does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.data import REPO


def run(*args: str, store: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=REPO,
        env={"AIOD_KG_STORE": str(store), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def reported(stdout: str) -> dict[int, str]:
    """``{position in the file: identifier}`` of the records written."""
    out = {}
    for line in stdout.splitlines():
        label, identifier = line.split(": ")
        out[int(label.rsplit("[", 1)[1].rstrip("]"))] = identifier
    return out


def test_import_with_jobs_reports_positions_and_upserts(tmp_path: Path) -> None:
    records: list[object] = [
        {"name": f"d{i}", "platform": "openml", "platform_resource_identifier": str(i)}
        for i in range(2300)
    ]
    records[1500] = {"name": 5}  # in the second batch of 1000
    records[2200] = {"name": "twin", "platform": "openml", "platform_resource_identifier": "7"}
    source = tmp_path / "datasets.json"
    source.write_text(json.dumps(records))
    store = tmp_path / "store"
    first = run("import", "--jobs", "2", "--mode", "create", str(source), store=store)
    assert first.returncode == 1
    assert f"{source}[1500]: name: Expected a string." in first.stderr
    written = reported(first.stdout)
    assert f"{source}[2200]: conflict with {written[7]}" in first.stderr
    assert sorted(written) == [i for i in range(2300) if i not in (1500, 2200)]
    assert len(set(written.values())) == len(written)
    # again, upserting (the default): the same identifiers; the fixed record is created, the
    # twin (a later batch) replaces the asset of record 7
    records[1500] = {"name": "fixed", "platform": "openml", "platform_resource_identifier": "1500"}
    source.write_text(json.dumps(records))
    again = run("import", "--jobs", "2", str(source), store=store)
    assert again.returncode == 0, again.stderr
    second = reported(again.stdout)
    assert {i: second[i] for i in written} == written
    assert second[2200] == written[7]
    assert 1500 in second and second[1500] not in written.values()
    exported = json.loads(run("export", "--format", "json", store=store).stdout)["datasets"]
    assert len(exported) == 2299
    assert [d["name"] for d in exported if d["identifier"] == written[7]] == ["twin"]
