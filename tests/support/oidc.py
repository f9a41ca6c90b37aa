"""The OIDC provider of the tests (npm ``oidc-provider``, tests/oidc/server.mjs) as a process
on loopback: started with a config file, ready when it prints ``READY <issuer>``."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.support.data import OIDC_PROJECT


def launch(port: int, config: dict[str, Any], workdir: Path) -> subprocess.Popen[str]:
    """Write ``config`` (keys, audience, clients, ...: see server.mjs) and start the provider
    on ``port``; raises with its output when it does not get ready within 60 s."""
    path = workdir / "provider.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    process = subprocess.Popen(
        ["node", str(OIDC_PROJECT / "server.mjs"), str(port), str(path)],
        cwd=OIDC_PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("READY"):
            return process
    stop(process)
    raise RuntimeError("oidc-provider did not start:\n" + "".join(lines))


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
