"""The distribution: every package is listed, and the wheel alone gives a working ``aiod-kg``.

The slow test builds the wheel, installs it (``--no-deps``) into a fresh virtual environment
whose dependencies come from this checkout's ``.venv`` through a ``.pth`` line (the editable
finder of ``.venv`` is not run: ``.pth`` files of an added directory are not processed), and
then, from ``/``, validates a file and serves the demo catalog: shapes, ontology, templates,
enums and demo payloads must all come from the installed package.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import httpx
import pytest

from tests.support.data import EXAMPLES, REPO
from tests.support.server import running_server


def test_every_package_on_disk_is_listed() -> None:
    """``packages`` in pyproject.toml is an explicit list: a new subpackage must be added."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    listed = set(config["setuptools"]["packages"])
    mapped = config["setuptools"]["package-dir"]
    on_disk = {
        ".".join(d.relative_to(REPO).parts)
        for top in ("kg", "api", "mappings")
        for d in [REPO / top, *(REPO / top).rglob("*")]
        if d.is_dir() and d.name != "__pycache__" and any(d.glob("*.py"))
    }
    on_disk |= {name for name, folder in mapped.items() if (REPO / folder).is_dir()}
    assert listed == on_disk


def _venv_with_wheel(tmp: Path) -> Path:
    wheels = tmp / "wheels"
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(REPO)],
        check=True,
        cwd=tmp,
    )
    (wheel,) = wheels.glob("aiod_kg-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [*pip, "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        cwd=tmp,
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # the dependencies (not aiod-kg: .venv has it only as an editable finder, never run here)
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


@pytest.mark.slow
@pytest.mark.server
def test_the_wheel_validates_and_serves_the_demo(tmp_path: Path) -> None:
    venv = _venv_with_wheel(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOD_KG_")}
    env.pop("PYTHONPATH", None)
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import kg, api, mappings; print(kg.__file__)"],
        cwd="/",
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(str(venv)), where  # the installed copy, not the checkout
    example = tmp_path / "datasets.json"
    shutil.copy(EXAMPLES / "datasets.json", example)
    aiod_kg = str(venv / "bin" / "aiod-kg")
    checked = subprocess.run(
        [aiod_kg, "validate", str(example), "--store", str(tmp_path / "v")],
        cwd="/",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    with running_server(
        None,
        command=[aiod_kg],
        args=["--demo", "--store", str(tmp_path / "s")],
        env={"PYTHONPATH": None},
        clean_env=True,
        admin_key=None,
        set_base_url=False,
        log_level=None,
        cwd="/",
        log=tmp_path / "serve.log",
        ready_timeout=240,
        stop_timeout=60,
        process_group=True,
    ) as server:
        counts = httpx.get(f"{server.base_url}/counts", timeout=30).json()
        page = httpx.get(f"{server.base_url}/?q=image+classification", timeout=60)
    output = server.output()
    total = sum(n for per_platform in counts.values() for n in per_platform.values())
    assert total >= 300, json.dumps(counts)
    assert set(counts["datasets"]) >= {"openml", "huggingface", "zenodo", "tensorflow_datasets"}
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert "demo: loaded" in output
