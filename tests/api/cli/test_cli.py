"""The ``aiod-kg`` command line: import, export, validate, generate, rebuild-index."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from rdflib import Dataset, Graph

from tests.support.data import AUTH, EXAMPLES, REPO
from tests.support.server import LiveServer, running_server


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


# --------------------------------------------------------------------------- structure, help

CLI = REPO / "api" / "cli"


def test_sub_commands_never_import_main() -> None:
    """main registers the sub-command modules; none of them imports main (no cycle), and
    only api/cli/options.py builds Settings from arguments."""
    import ast

    for path in sorted(CLI.glob("*.py")):
        if path.name in ("main.py", "__main__.py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        } | {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        assert "api.cli.main" not in imported, path.name
        if path.name not in ("options.py", "harvest.py"):  # harvest.py: see its owner
            assert "Settings(" not in path.read_text(encoding="utf-8"), path.name
    # and importing any of them alone works (no cycle through main)
    code = (
        "import importlib, sys\n"
        "for name in ('auth', 'backup', 'client', 'search', 'harvest', 'options'):\n"
        "    importlib.import_module('api.cli.' + name)\n"
        "assert 'api.cli.main' not in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_help_of_every_command_and_the_readme_names_them(tmp_path: Path) -> None:
    from api.cli.main import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert commands and "serve" in commands and "get" in commands
    top = run("--help", store=tmp_path / "s").stdout
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in commands:
        assert name in top
        assert f"aiod-kg {name}" in readme, f"README does not show aiod-kg {name}"
        text = run(name, "--help", store=tmp_path / "s").stdout
        assert text.startswith(f"usage: aiod-kg {name}"), name
    assert "--base-url URL" in run("serve", "--help", store=tmp_path / "s").stdout
    assert not (tmp_path / "s").exists()  # help opens no store


# --------------------------------------------------------------------------- base URL


def serve(store: Path, log: Path, **env: str) -> AbstractContextManager[LiveServer]:
    """``aiod-kg serve --port PORT`` without AIOD_KG_BASE_URL unless ``env`` sets it."""
    return running_server(
        store,
        env={"AIOD_KG_SEARCH_MODEL": "static", **env},
        set_base_url=False,
        clean_env=True,
        log=log,
    )


@pytest.mark.slow
@pytest.mark.server
def test_base_url_follows_the_serve_address_and_is_remembered(tmp_path: Path) -> None:
    import httpx

    store, log = tmp_path / "store", tmp_path / "serve.log"
    with serve(store, log) as live:
        base = live.base_url
        made = httpx.post(
            f"{base}/datasets",
            headers=AUTH,
            timeout=30,
            json={
                "name": "Port-following dataset",
                "platform": "example",
                "platform_resource_identifier": "port-1",
                "aiod_entry": {"status": "published"},
            },
        )
        assert made.status_code == 200, made.text
        identifier = made.json()["identifier"]
        document = httpx.get(f"{base}/datasets/{identifier}?format=jsonld", timeout=30).json()
        assert document["@id"] == f"{base}/datasets/{identifier}"
        deadline = time.monotonic() + 120
        items: list[dict[str, object]] = []
        while not items and time.monotonic() < deadline:
            items = httpx.get(f"{base}/search", params={"q": "port"}, timeout=30).json()["items"]
            time.sleep(0.2)
        assert items and items[0]["url"] == f"{base}/datasets/{identifier}"
    assert (store / "base_url").read_text().strip() == base

    # served elsewhere later (derived or explicitly different): IRIs stay on the first base
    for env in ({}, {"AIOD_KG_BASE_URL": "https://kg.example.org"}):
        log.write_bytes(b"")
        with serve(store, log, **env) as second:
            document = httpx.get(
                f"{second.base_url}/datasets/{identifier}?format=jsonld", timeout=30
            ).json()
            assert document["@id"] == f"{base}/datasets/{identifier}"
        warning = log.read_text()
        assert f"this store's IRIs were minted on {base}" in warning, warning
    # a local command on the same store mints on the remembered base too
    nquads = run("export", "--format", "nquads", store=store).stdout
    assert f"<{base}/datasets/{identifier}> ." in nquads
    # an explicit base URL on a fresh store is the one remembered
    fresh = tmp_path / "fresh"
    run(
        "import",
        str(EXAMPLES / "projects.json"),
        "--base-url",
        "https://kg.example.org",
        store=fresh,
    )
    assert (fresh / "base_url").read_text().strip() == "https://kg.example.org"
    assert "<https://kg.example.org/projects/" in run("export", store=fresh).stdout
