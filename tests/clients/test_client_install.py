"""The light client installs alone: ``pip install ./clients/python`` into a fresh virtual
environment (no system site packages) brings httpx but none of the server's weight (torch,
faiss, pyoxigraph, rdflib), and that environment's Python then talks to a real server."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.data import ADMIN_KEY, REPO
from tests.support.server import running_server

pytestmark = [pytest.mark.slow, pytest.mark.server]

SERVER_ONLY = ("torch", "faiss", "pyoxigraph", "rdflib", "fastapi", "kg", "api")

SCRIPT = textwrap.dedent(
    """
    import importlib.util, sys, time

    base, key = sys.argv[1], sys.argv[2]
    present = [m for m in {server_only!r} if importlib.util.find_spec(m) is not None]
    assert not present, present

    from aiod_kg_client import Client, NotFoundError, Rows
    from aiod_kg_client import rdf

    with Client(base, token=key, timeout=30) as kg:
        identifier = kg.datasets.create({{
            "name": "Installed-client dataset",
            "description": {{"plain": "Spectrograms of bird songs for audio classification."}},
            "platform": "example",
            "platform_resource_identifier": "venv-1",
            "keyword": ["audio"],
            "aiod_entry": {{"status": "published"}},
        }})
        assert kg.datasets.get(identifier)["name"] == "Installed-client dataset"
        assert [d["identifier"] for d in kg.datasets.list(limit=10)] == [identifier]
        assert [d["identifier"] for d in kg.iter("datasets", page_size=1)] == [identifier]
        hits = []
        deadline = time.monotonic() + 120
        while not hits and time.monotonic() < deadline:  # indexed in the background
            hits = kg.search("bird songs", type="datasets").hits
            time.sleep(0.2)
        assert hits and hits[0].identifier == identifier, hits
        assert hits[0].url == base + "/datasets/" + identifier
        rows = kg.sparql("SELECT ?name WHERE {{ ?d a dcat:Dataset ; schema:name ?name }}")
        assert isinstance(rows, Rows) and rows == [{{"name": "Installed-client dataset"}}]
        assert "Installed-client" in kg.get_as("datasets", identifier, "turtle")
        try:
            kg.datasets.get("data_" + "x" * 24)
        except NotFoundError as exc:
            assert exc.status == 404 and exc.reference
        else:
            raise AssertionError("no NotFoundError")
        for extra, call in (
            ("[pandas]", rows.to_pandas),
            ("[rdf]", lambda: rdf.convert("<a:b> <a:c> <a:d> .", "nt", "turtle")),
            ("[rdf]", lambda: kg.get_graph("datasets", identifier)),
        ):
            try:
                call()
            except ImportError as exc:
                assert "aiod-kg-client" + extra in str(exc), exc
            else:
                raise AssertionError("no ImportError without the extra " + extra)
        kg.datasets.delete(identifier)
    print("client ok")
    """
)


def test_fresh_venv_installs_only_the_light_client(tmp_path: Path) -> None:
    source = tmp_path / "client-src"  # a copy: pip's build leaves nothing in the checkout
    shutil.copytree(
        REPO / "clients" / "python",
        source,
        ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"),
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    names = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.lower()
    assert "aiod-kg-client==" in names and "httpx==" in names
    for heavy in ("torch", "faiss-cpu", "pyoxigraph", "rdflib", "pandas", "fastapi", "numpy"):
        assert f"\n{heavy}==" not in f"\n{names}", heavy

    script = tmp_path / "use_client.py"
    script.write_text(SCRIPT.format(server_only=SERVER_ONLY), encoding="utf-8")
    with running_server(tmp_path / "store") as server:
        used = subprocess.run(
            [str(python), str(script), server.base_url, ADMIN_KEY],
            cwd=tmp_path,  # not the checkout: its kg/ and api/ must not be importable
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert used.returncode == 0, used.stdout + used.stderr
    assert "client ok" in used.stdout
