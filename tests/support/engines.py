"""Real SPARQL engines on loopback for tests and benchmarks: Oxigraph server and Virtuoso.

``start_oxigraph`` runs ``oxigraph serve`` (from the ``oxigraph`` PyPI package);
``start_virtuoso`` runs Debian's ``virtuoso-t`` with a copy of its ``virtuoso.ini`` whose ports
are on 127.0.0.1 and whose database lives in a temporary directory (new database: dba/dba).
Both return an ``Engine`` whose ``stop()`` ends the process it started, and nothing else.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.server import free_port

VIRTUOSO_INI = Path("/etc/virtuoso-opensource-7/virtuoso.ini")


@dataclass
class Engine:
    name: str
    process: subprocess.Popen[bytes]
    url: str  # the AIOD_KG_STORE value
    http: str  # http://127.0.0.1:port
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _wait(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the engine exited: {log.read_text(errors='replace')}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def oxigraph_binary() -> str | None:
    local = Path(sys.executable).parent / "oxigraph"
    return str(local) if local.exists() else shutil.which("oxigraph")


def start_oxigraph(folder: Path, timeout_s: float | None = None) -> Engine:
    binary = oxigraph_binary()
    if binary is None:
        raise RuntimeError("oxigraph (pip install oxigraph) is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = folder.parent / f"{folder.name}.log"
    command = [binary, "serve", "--location", str(folder), "--bind", f"127.0.0.1:{port}"]
    if timeout_s:
        command += ["--timeout-s", str(int(timeout_s))]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    http = f"http://127.0.0.1:{port}"
    _wait(f"{http}/query?query=ASK%7B%7D", process, log, 30)
    return Engine("oxigraph", process, f"sparql+{http}", http, log)


def virtuoso_binary() -> str | None:
    return shutil.which("virtuoso-t") or (
        "/usr/bin/virtuoso-t" if Path("/usr/bin/virtuoso-t").exists() else None
    )


def start_virtuoso(folder: Path) -> Engine:
    binary = virtuoso_binary()
    if binary is None or not VIRTUOSO_INI.exists():
        raise RuntimeError("virtuoso-t (Debian virtuoso-opensource) is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    sql_port, http_port = free_port(), free_port()
    text = VIRTUOSO_INI.read_text()
    text = text.replace("/var/lib/virtuoso-opensource-7/db", str(folder))
    sections = re.split(r"(?m)^(?=\[)", text)
    out = []
    for section in sections:
        if section.startswith("[Parameters]"):
            section = re.sub(
                r"(?m)^ServerPort\s*=.*$", f"ServerPort = 127.0.0.1:{sql_port}", section
            )
        elif section.startswith("[HTTPServer]"):
            section = re.sub(
                r"(?m)^ServerPort\s*=.*$", f"ServerPort = 127.0.0.1:{http_port}", section
            )
        out.append(section)
    ini = folder / "virtuoso.ini"
    ini.write_text("".join(out))
    log = folder / "stdout.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [binary, "+configfile", str(ini), "+foreground"],
            cwd=folder,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ},
        )
    http = f"http://127.0.0.1:{http_port}"
    _wait(f"{http}/sparql?query=ASK%7B%7D", process, log, 60)
    return Engine(
        "virtuoso",
        process,
        f"sparql+http://dba:dba@127.0.0.1:{http_port}/?dialect=virtuoso",
        http,
        log,
    )
