"""Bounded calls: run a function on untrusted input in a warm worker process that is killed
when it passes its deadline, so a native parser that hangs, crashes or balloons costs only
that call (DESIGN.md section 9).

pyoxigraph parses in Rust with no way to interrupt it from Python, and a Rust allocation
failure aborts the whole process. Here the call runs in a separate interpreter started with
``python -m kg.formats.bounded`` (not a fork of the threaded server) whose address space is
capped with ``RLIMIT_AS``; the parent waits for the answer with a deadline and kills the worker
(``SIGKILL``) when it is late. A dead or killed worker is replaced; the caller gets
:class:`BodyTooCostly` (413). Workers are kept warm in a small pool, so a call costs one pipe
round trip, not a process start.

The worker runs only functions named by module and qualified name and exits when its request
pipe closes (its parent went away). Frames are length-prefixed pickles between this process
and its own child.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import pickle
import queue
import resource
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from kg.errors import CatalogError

_HEADER = struct.Struct("!Q")
_READY = "ready"


class BodyTooCostly(CatalogError):
    """The body could not be read within the limits of time or memory."""

    status = 413


def _read_exact(stream: IO[bytes], size: int) -> bytes:
    chunks = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _send(stream: IO[bytes], value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _serve(memory_bytes: int, preload: list[str]) -> None:
    """The worker's loop: read ``(module, name, args)``, answer ``("ok", value)`` or
    ``("error", text)``."""
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints never corrupt the answer pipe
    for module in preload:
        importlib.import_module(module)
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    with contextlib.suppress(OSError):  # a costly body yields the CPU to the server's loop
        os.nice(10)
    _send(answers, _READY)
    while True:
        try:
            (size,) = _HEADER.unpack(_read_exact(requests, _HEADER.size))
            module, name, args = pickle.loads(_read_exact(requests, size))
        except EOFError:
            return
        try:
            function = getattr(importlib.import_module(module), name)
            answer: tuple[str, Any] = ("ok", function(*args))
        except MemoryError:
            answer = ("memory", "out of memory")
        except BaseException as exc:  # the parent turns it into a clear error
            answer = ("error", f"{type(exc).__name__}: {exc}")
        _send(answers, answer)


class _Worker:
    def __init__(self, memory_bytes: int, preload: tuple[str, ...]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kg.formats.bounded", str(memory_bytes), *preload],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
        self.ready = False

    def _read_answer(self, deadline: float) -> Any:
        assert self.process.stdout is not None
        out = self.process.stdout
        fd = out.fileno()
        buffer = bytearray()
        need = _HEADER.size
        header_done = False
        while True:
            while len(buffer) < need:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                readable, _, _ = select.select([fd], [], [], left)
                if not readable:
                    raise TimeoutError
                chunk = os.read(fd, max(need - len(buffer), 65536))
                if not chunk:
                    raise EOFError
                buffer += chunk
            if header_done:
                return pickle.loads(bytes(buffer[_HEADER.size : need]))
            (size,) = _HEADER.unpack(bytes(buffer[: _HEADER.size]))
            need = _HEADER.size + size
            header_done = True

    def call(self, module: str, name: str, args: tuple[Any, ...], timeout: float) -> Any:
        assert self.process.stdin is not None
        if not self.ready:  # the first answer is the readiness probe (imports done)
            if self._read_answer(time.monotonic() + 30.0) != _READY:
                raise EOFError
            self.ready = True
        _send(self.process.stdin, (module, name, args))
        return self._read_answer(time.monotonic() + timeout)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)

    def alive(self) -> bool:
        return self.process.poll() is None


class BoundedPool:
    """``size`` warm workers; :meth:`call` runs one function in one of them, bounded."""

    def __init__(
        self, size: int, timeout: float, memory_bytes: int, preload: tuple[str, ...] = ()
    ) -> None:
        self.timeout = timeout
        self.memory_bytes = memory_bytes
        self.preload = preload
        self._idle: queue.LifoQueue[_Worker | None] = queue.LifoQueue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        for _ in range(size):  # started now, so they are warm (imports done) by the first call
            self._idle.put(self._start())

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` in a worker; :class:`BodyTooCostly` past the deadline or the
        memory cap, ``RuntimeError`` if the function raised."""
        worker = self._idle.get()
        try:
            if worker is None or not worker.alive():
                worker = self._start()
            try:
                outcome = worker.call(
                    function.__module__, function.__qualname__, args, self.timeout
                )
            except TimeoutError:
                self._discard(worker)
                worker = None
                raise BodyTooCostly(
                    f"The body took longer than {self.timeout:g} s to read; send a smaller one."
                ) from None
            except (EOFError, OSError, pickle.UnpicklingError):
                self._discard(worker)
                worker = None
                raise BodyTooCostly(
                    "Reading the body needed more memory than allowed; send a smaller one."
                ) from None
        finally:
            self._idle.put(worker)
        kind, value = outcome
        if kind == "ok":
            return value
        if kind == "memory":
            raise BodyTooCostly("Reading the body needed more memory than allowed.")
        raise RuntimeError(value)

    def _start(self) -> _Worker:
        worker = _Worker(self.memory_bytes, self.preload)
        with self._lock:
            self._all.add(worker)
        return worker

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)

    def pids(self) -> list[int]:
        with self._lock:
            return [w.process.pid for w in self._all if w.alive()]

    def close(self) -> None:
        with self._lock:
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.kill()


_pools: dict[tuple[int, float, int, tuple[str, ...]], BoundedPool] = {}
_pools_lock = threading.Lock()


def shared_pool(
    size: int, timeout: float, memory_bytes: int, preload: tuple[str, ...] = ()
) -> BoundedPool:
    """The process-wide pool for these limits (workers are shared by every app in it)."""
    key = (size, timeout, memory_bytes, preload)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = BoundedPool(size, timeout, memory_bytes, preload)
        return pool


@atexit.register
def _close_pools() -> None:
    for pool in list(_pools.values()):
        pool.close()


if __name__ == "__main__":
    _serve(int(sys.argv[1]), sys.argv[2:])
