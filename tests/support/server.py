"""The one way tests start a real ``aiod-kg serve``: ``running_server`` picks a free loopback
port, builds the environment (admin key, base URL, store, extra settings), waits for
``/health``, and stops the process (terminate, then kill) however the test ends. Its output
goes to a log file (the test's, or a temporary one whose tail explains a failed start).

``starts_server`` / ``needs_engine`` tag fixture functions; tests/conftest.py gives every test
using such a fixture the ``server`` / ``engine`` marker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

from tests.support.data import ADMIN_KEY, REPO

F = TypeVar("F", bound=Callable[..., object])

# the command before ``serve``: the checkout's CLI in this interpreter
CHECKOUT_CLI = (sys.executable, "-m", "api.cli")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    url: str, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Until ``url`` answers below 500; fails early when ``process`` has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before {url}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@dataclass(frozen=True)
class LiveServer:
    """A running ``aiod-kg serve``: its process, address and log file."""

    process: subprocess.Popen[bytes]
    base_url: str
    port: int
    log: Path

    def output(self) -> str:
        """What the server has written to stdout and stderr so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")


def server_env(
    *,
    store: Path | str | None,
    base_url: str | None,
    admin_key: str | None,
    env: Mapping[str, str | None],
    clean_env: bool,
) -> dict[str, str]:
    """The server's environment: this one (without AIOD_KG_* when ``clean_env``), then the
    admin key, base URL and store, then ``env`` (a ``None`` value unsets a variable)."""
    out = {k: v for k, v in os.environ.items() if not (clean_env and k.startswith("AIOD_KG_"))}
    if admin_key is not None:
        out["AIOD_KG_ADMIN_KEY"] = admin_key
    if base_url is not None:
        out["AIOD_KG_BASE_URL"] = base_url
    if store is not None:
        out["AIOD_KG_STORE"] = str(store)
    for key, value in env.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


@contextmanager
def running_server(
    store: Path | str | None,
    *,
    env: Mapping[str, str | None] | None = None,
    args: Sequence[str] = (),
    admin_key: str | None = ADMIN_KEY,
    set_base_url: bool = True,
    port: int | None = None,
    log: Path | None = None,
    command: Sequence[str] = CHECKOUT_CLI,
    cwd: Path | str = REPO,
    clean_env: bool = False,
    log_level: str | None = "warning",
    ready_timeout: float = 120.0,
    stop_timeout: float = 15.0,
    process_group: bool = False,
) -> Iterator[LiveServer]:
    """``COMMAND serve ARGS --port PORT [--log-level LEVEL]`` on 127.0.0.1, ready when the
    context is entered, stopped when it is left.

    ``store`` is AIOD_KG_STORE (a folder or an engine URL; ``None``: not set, e.g. with
    ``--store`` in ``args``);
    ``admin_key`` is AIOD_KG_ADMIN_KEY (``None``: not set); ``set_base_url`` sets
    AIOD_KG_BASE_URL to the served address; ``env`` comes last. ``port`` is a free one unless
    the test needed it earlier (e.g. to mint IRIs on that base before starting). ``log``
    (appended to) receives stdout and stderr; without one a temporary file does.
    ``command`` is the checkout's CLI unless a test runs an installed ``aiod-kg``;
    ``process_group`` starts it in its own session and signals the whole group."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    environment = server_env(
        store=store,
        base_url=base if set_base_url else None,
        admin_key=admin_key,
        env=env or {},
        clean_env=clean_env,
    )
    argv = [*command, "serve", *args, "--port", str(port)]
    if log_level is not None:
        argv += ["--log-level", log_level]
    with _log_file(log) as path, path.open("ab") as out:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=process_group,
        )
        try:
            try:
                wait_for(f"{base}/health", timeout=ready_timeout, process=process)
            except (RuntimeError, TimeoutError) as error:
                out.flush()
                tail = path.read_text(encoding="utf-8", errors="replace")[-4000:]
                raise RuntimeError(f"{' '.join(argv)}: {error}\n{tail}") from None
            yield LiveServer(process, base, port, path)
        finally:
            _stop(process, stop_timeout, process_group)


@contextmanager
def _log_file(log: Path | None) -> Iterator[Path]:
    if log is not None:
        yield log
        return
    with tempfile.TemporaryDirectory(prefix="aiod-kg-serve-") as folder:
        yield Path(folder) / "serve.log"


def _stop(process: subprocess.Popen[bytes], timeout: float, group: bool) -> None:
    def send(sig: signal.Signals) -> None:
        try:
            if group:
                os.killpg(process.pid, sig)
            else:
                process.send_signal(sig)
        except ProcessLookupError:
            pass

    if group or process.poll() is None:
        send(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait(timeout=timeout)


def starts_server(fixture_function: F) -> F:
    """Tags a fixture function that starts a real server (put it under ``@pytest.fixture``):
    the tests using it are marked ``server``."""
    fixture_function.aiod_kg_markers = ("server",)  # type: ignore[attr-defined]
    return fixture_function


def needs_engine(fixture_function: F) -> F:
    """Tags a fixture function that starts an external engine (Oxigraph server, Virtuoso, the
    Node OIDC provider): the tests using it are marked ``engine``."""
    fixture_function.aiod_kg_markers = ("engine",)  # type: ignore[attr-defined]
    return fixture_function
