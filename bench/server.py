"""The one way benchmarks start a server: a free loopback port, ``python -m api.cli serve``
from this checkout with the benchmark's environment, wait for ``/health``, stop when done.

``wait_ready`` and ``stop`` also serve other processes a benchmark starts (the Oxigraph
server of bench/sparql.py, the replay of bench/harvest.py).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
# ``log=DISCARD``: the server's output goes nowhere
DISCARD = Path(os.devnull)


@dataclass(frozen=True)
class Server:
    """A running ``aiod-kg serve``."""

    process: subprocess.Popen[bytes]
    base_url: str
    port: int


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Until ``url`` answers below 500; exits the benchmark when ``process`` ends first or
    nothing answers within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Terminate, then kill what is still running after ``timeout`` seconds."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def aiod_kg_server(
    store: Path | str,
    *,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    port: int | None = None,
    log: Path | None = None,
    ready_timeout: float = 300.0,
) -> Iterator[Server]:
    """``aiod-kg serve ARGS --port PORT --log-level warning`` on 127.0.0.1 over ``store``,
    ready when the context is entered, stopped when it is left.

    The environment is this process's, then AIOD_KG_STORE and AIOD_KG_BASE_URL (the served
    address), then ``env`` (e.g. a fixed base URL the assets were minted on, search off).
    ``log`` (appended to) receives the server's output; ``None``: this process's own."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    environment = {**os.environ, "AIOD_KG_STORE": str(store), "AIOD_KG_BASE_URL": base}
    environment.update(env or {})
    argv = [sys.executable, "-m", "api.cli", "serve", *args]
    argv += ["--port", str(port), "--log-level", "warning"]
    out = log.open("ab") if log is not None else None
    try:
        process = subprocess.Popen(argv, cwd=REPO, env=environment, stdout=out, stderr=out)
        try:
            wait_ready(f"{base}/health", process, ready_timeout)
            yield Server(process, base, port)
        finally:
            stop(process)
    finally:
        if out is not None:
            out.close()
