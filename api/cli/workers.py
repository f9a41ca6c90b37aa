"""``aiod-kg serve --workers N`` (AIOD_KG_WORKERS): N API processes on one catalog.

This module owns the multi-process start-up; ``api.cli.main.cmd_serve`` hands over to
``serve_workers`` when N > 1 (``make serve`` stays one process on the embedded store).

A pyoxigraph (RocksDB) store opens in one process only, so the store gets one owner: an
Oxigraph server (the ``oxigraph`` PyPI package's binary, same storage format as pyoxigraph) on
a free loopback port per store directory (public partition and private partition). The N
uvicorn workers reach it as ``sparql+http://127.0.0.1:PORT`` (``kg.store.remote``) and share
everything else in the data directory: the SQLite files in WAL mode (catalogue index with its
document cache and change feed, access rules, keys, revisions, harvest state, links, file
ledger), the write lock (``kg.db.locks``) and the files. Each worker keeps its own
search index copy (``search/`` for slot 0, ``search-worker<k>/`` for the others, seeded from
``search/``) which follows the other workers' writes through the change feed
(``kg.store.feed``). docs/design.md ("Workers") says why and lists every process-local state.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import gc
import json
import logging
import math
import multiprocessing
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from kg.settings import Settings

WORKER_HEADER = b"x-aiod-kg-worker"
MAX_SLOTS = 64
#: the slot lock files this process holds for its life (see ``claim_slot``)
_held: list[int] = []


# --------------------------------------------------------------------------- the store owner


def oxigraph_binary() -> str | None:
    """The Oxigraph server binary: beside this interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).parent / "oxigraph"
    return str(beside) if beside.exists() else shutil.which("oxigraph")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """Linux: this process gets SIGTERM when its parent dies, even by SIGKILL (the store
    server, before its exec; a worker, at its start)."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class StoreServer:
    """One ``oxigraph serve`` on a store directory, on a free loopback port."""

    def __init__(self, binary: str, location: Path, timeout_s: float, log: Any) -> None:
        self.location = location
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                binary,
                "serve",
                "--location",
                str(location),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--timeout-s",
                str(max(1, math.ceil(timeout_s))),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )

    @property
    def location_url(self) -> str:
        return f"sparql+{self.url}"

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the Oxigraph server on {self.location} exited ({self.process.returncode})"
                )
            try:
                answer = httpx.get(f"{self.url}/query", params={"query": "ASK {}"}, timeout=2)
                if answer.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"the Oxigraph server on {self.location} did not answer")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --------------------------------------------------------------------------- the supervisor


def catch_up(settings: Settings) -> None:
    """Recover the catalog and reconcile the search index with it (in a child process, so
    the supervisor never holds the search models)."""
    from kg.catalog import Catalog
    from kg.search.index import open_index

    catalog = Catalog(settings)
    try:
        index = open_index(settings)
        try:
            index.bind(catalog)
            index.reconcile()
        finally:
            index.close()
    finally:
        catalog.close()


def worker_environment(
    settings: Settings, workers: int, public: str, private: str, folder: Path
) -> dict[str, str]:
    """The AIOD_KG_* variables every worker starts with (they override the caller's)."""
    return {
        "AIOD_KG_STORE": public,
        "AIOD_KG_PRIVATE_STORE": private,
        "AIOD_KG_DATA_DIR": str(folder),  # catalog.sqlite etc.: where the store kept them
        "AIOD_KG_BASE_URL": settings.base_url,
        "AIOD_KG_BACKUP_DIR": str(settings.backup_path.resolve()),
        "AIOD_KG_HOST": settings.host,
        "AIOD_KG_PORT": str(settings.port),
        "AIOD_KG_WORKERS": str(workers),
    }


def seed_search_copies(folder: Path, search_dir: str | None, workers: int) -> None:
    """Give each further worker a fresh copy of the search index the catch-up just brought up
    to date (copying is far cheaper than embedding what an older copy missed)."""
    source = Path(search_dir) if search_dir else folder / "search"
    if not source.is_dir():
        return
    for slot in range(1, workers):
        target = search_copy(folder, search_dir, slot)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.lock", ".tantivy*"))


def search_copy(folder: Path, search_dir: str | None, slot: int) -> Path:
    return Path(f"{search_dir}-worker{slot}") if search_dir else folder / f"search-worker{slot}"


@dataclass(frozen=True)
class Schedule:
    """``serve --harvest-every`` / ``--sync-every``: run by the worker in slot 0 (a restarted
    worker takes the slot back); the harvest lease and the sync lock keep any other runner
    (another replica, a shell's ``aiod-kg harvest``) from running the same source at once."""

    harvest_every: str | None = None
    sync_every: str | None = None

    def to_env(self) -> str:
        return json.dumps({"harvest_every": self.harvest_every, "sync_every": self.sync_every})

    @classmethod
    def from_env(cls) -> Schedule:
        found = json.loads(os.environ.get(SCHEDULE_ENV) or "{}")
        return cls(found.get("harvest_every"), found.get("sync_every"))


SCHEDULE_ENV = "AIODKG_WORKERS_SCHEDULE"  # supervisor -> workers (not a setting)


def serve_workers(
    settings: Settings, workers: int, log_level: str, schedule: Schedule | None = None
) -> int:
    """Run ``workers`` API processes on one catalog; returns the exit status."""
    import uvicorn

    from kg.catalog import Catalog
    from kg.store.backends import index_path, private_location
    from kg.store.remote import is_remote

    binary = oxigraph_binary()
    locations = [settings.store, private_location(settings)]
    if binary is None and not all(is_remote(x) for x in locations):
        print("aiod-kg serve --workers: the oxigraph server binary is missing", file=sys.stderr)
        return 2
    # repair an interrupted write, build a missing index and bring the search index up to
    # date once, while nothing else is on the store (the workers' copies start from it)
    if settings.search_enabled:
        child = multiprocessing.get_context("spawn").Process(
            target=catch_up, args=(settings,), name="aiod-kg-catch-up"
        )
        child.start()
        child.join()
        if child.exitcode != 0:
            print("aiod-kg serve --workers: the start-up catch-up failed", file=sys.stderr)
            return 2
    else:
        Catalog(settings).close()
    gc.collect()  # pyoxigraph releases RocksDB's lock when the store object goes
    folder = index_path(settings).parent.resolve()
    servers: list[StoreServer] = []
    log = open(folder / "oxigraph.log", "ab")  # noqa: SIM115 - closed below
    try:
        urls = []
        for location in locations:
            if is_remote(location):
                urls.append(location)
                continue
            assert binary is not None
            server = StoreServer(binary, Path(location).resolve(), settings.sparql_timeout, log)
            servers.append(server)
            urls.append(server.location_url)
        for server in servers:
            server.wait_ready()
        os.environ.update(worker_environment(settings, workers, urls[0], urls[1], folder))
        os.environ[SCHEDULE_ENV] = (schedule or Schedule()).to_env()
        # without search no worker opens a copy (at 1M each is GiBs read and written, which
        # pushes the catalogue index out of the page cache the lists read from)
        if settings.search_enabled:
            seed_search_copies(folder, settings.search_dir, workers)
        print(
            f"aiod-kg: {workers} workers on http://{settings.host}:{settings.port}, store owned"
            f" by {', '.join(s.url for s in servers) or 'the remote engine'}",
            file=sys.stderr,
        )
        config = uvicorn.Config(
            "api.cli.workers:worker_app",
            factory=True,
            workers=workers,
            host=settings.host,
            port=settings.port,
            log_level=log_level,
            access_log=False,
            # a worker busy embedding on a loaded machine is not hung: uvicorn's default (5 s
            # without answering its supervisor's ping) would kill and restart it
            timeout_worker_healthcheck=60,
        )
        supervisor = Supervisor(config, sockets=[config.bind_socket()])
        with contextlib.suppress(KeyboardInterrupt):
            supervisor.run()
        failed = [p.pid for p in supervisor.processes if p.exitcode == STARTUP_FAILURE]
        if failed:
            print(
                f"aiod-kg serve --workers: worker {failed[0]} failed to start (its log above)",
                file=sys.stderr,
            )
            return STARTUP_FAILURE
    finally:
        for server in servers:
            server.stop()
        log.close()
    return 0


class WorkerProcess(Process):
    """uvicorn's worker process, whose exit code says when it did not start: a failed app
    factory or lifespan start-up exits with ``STARTUP_FAILURE`` (uvicorn's own worker exits
    1 or 0 then, and its supervisor starts it again, forever)."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # pragma: no cover
        try:
            super().target(sockets)
        except Exception:
            logging.getLogger("uvicorn.error").exception("the worker failed to start")
            sys.exit(STARTUP_FAILURE)
        if not self.server.started:
            sys.exit(STARTUP_FAILURE)

    def is_alive(self, timeout: float = 5) -> bool:
        """Answers the supervisor's ping within ``timeout``; stops waiting when the process
        ends (uvicorn's waits the whole timeout for a worker that died just after its check)."""
        if not self.process.is_alive():
            return False
        try:
            self.parent_conn.send(b"ping")
        except OSError:
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.parent_conn.poll(0.2):
                try:
                    self.parent_conn.recv()
                except (OSError, EOFError, pickle.UnpicklingError):
                    return False
                return True
            if not self.process.is_alive():
                return False
        return False


class Supervisor(Multiprocess):
    """uvicorn's supervisor with ``WorkerProcess`` workers: it stops (and ``serve_workers``
    exits with ``STARTUP_FAILURE``) when a worker fails to start, instead of restarting it."""

    def init_processes(self) -> None:
        for _ in range(self.processes_num):
            process = WorkerProcess(self.config, self.sockets)
            process.start()
            self.processes.append(process)

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for idx, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung or dead
            process.join()
            if process.exitcode == STARTUP_FAILURE:  # would fail the same way again
                logging.getLogger("uvicorn.error").error(
                    "Child process [%s] failed to start, stopping the parent process.", process.pid
                )
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            replacement = WorkerProcess(self.config, self.sockets)
            replacement.start()
            self.processes[idx] = replacement


# --------------------------------------------------------------------------- one worker


def claim_slot(folder: Path) -> int:
    """The lowest worker slot no live process holds (a file lock held for this process's
    life; the kernel frees it when the process dies, so a restarted worker reuses it)."""
    slots = folder / "workers"
    slots.mkdir(exist_ok=True)
    for slot in range(MAX_SLOTS):
        fd = os.open(slots / f"slot-{slot}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        _held.append(fd)
        return slot
    raise RuntimeError(f"more than {MAX_SLOTS} workers on {folder}")


class WorkerHeader:
    """Adds ``X-AIOD-KG-Worker: <pid>`` to every response (AIOD_KG_WORKER_HEADER)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.value = str(os.getpid()).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (WORKER_HEADER, self.value)]
            await send(message)

        await self.app(scope, receive, tagged)


def worker_app() -> FastAPI:
    """The app of one worker (uvicorn's factory): the settings ``serve_workers`` exported,
    and the search index copy of the slot it claims."""
    from api.app import create_app
    from api.cli.options import settings_from
    from kg.store.backends import index_path

    if sys.platform == "linux":
        _die_with_parent()  # a worker never outlives its supervisor (holding the port)
    # the AIOD_KG_* variables serve_workers exported; the one way to build settings
    settings = settings_from(argparse.Namespace())
    folder = index_path(settings).parent
    slot = claim_slot(folder)
    if slot:
        copy = search_copy(folder, settings.search_dir, slot)
        settings = settings.model_copy(update={"search_dir": str(copy)})
    schedule = Schedule.from_env()
    if slot or not (schedule.harvest_every or schedule.sync_every):
        app = create_app(settings)
    else:  # slot 0 also runs the scheduled harvests and syncs, on the catalog it serves
        app = create_app(settings, _scheduled_catalog(settings, schedule))
    install_worker_header(app, settings)
    return app


def _scheduled_catalog(settings: Settings, schedule: Schedule) -> Any:
    """A catalog with the schedule's harvests and syncs started on it (they live as long as
    the worker does); a ValueError (not a node) fails the worker's start, so the supervisor."""
    from api.cli.harvest import start_scheduler
    from api.cli.sync import start_sync_scheduler
    from kg.catalog import Catalog

    catalog = Catalog(settings)
    if schedule.harvest_every:
        _schedulers.append(start_scheduler(catalog, settings, schedule.harvest_every))
    if schedule.sync_every:
        _schedulers.append(start_sync_scheduler(catalog, schedule.sync_every))
    return catalog


_schedulers: list[Any] = []  # the slot-0 worker's running schedulers


def install_worker_header(app: FastAPI, settings: Settings) -> None:
    """``X-AIOD-KG-Worker`` on every answer when AIOD_KG_WORKER_HEADER is set (any number of
    workers)."""
    if settings.worker_header:
        app.add_middleware(WorkerHeader)
