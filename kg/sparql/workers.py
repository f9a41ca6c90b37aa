"""Query workers that can be stopped: forked snapshots of this process, killed at a deadline.

pyoxigraph evaluates a query in Rust with no way to interrupt it from Python (no timeout, no
cancellation, signals are not checked), so an explosive query run on a thread would burn a core
until it finishes. Here each query runs in a *worker process* forked from this one: the fork
shares the open store (copy-on-write) and sees it exactly as it was at the fork, a consistent
snapshot. A worker that passes its deadline is killed -- by the kernel itself (``SIGALRM`` left at
its default action, which the Rust code cannot block) and by the parent as a backstop -- so the
CPU is freed and the caller gets a clear error.

Workers are kept warm and reused while the store is unchanged (the store's ``version``); after a
write the next query forks a fresh worker (about 8 ms at 1M triples) so results are never stale.
Forks happen under the store's write lock, so a snapshot never holds half of a write.

The child never writes to the store, never runs the parent's destructors (it leaves with
``os._exit``), closes every inherited socket and pipe but its own, and exits when its parent
goes away (end of file on its request pipe). Linux only (``os.fork``); elsewhere use the
thread mode of ``kg.sparql.service``.

**Priority.** A worker starts at the server's priority, so a short query (a lookup, an ASK:
milliseconds) is not queued behind other work on a busy machine. A job still running after
``DEMOTE_AFTER`` (250 ms) has its worker lowered to nice ``WORKER_NICENESS`` by the parent, so
a query that burns a core until its deadline yields the CPU to the server's event loop and the
other requests; an unprivileged process cannot raise a priority again, so a demoted worker is
retired after its job and a fresh one forked for the next.

Each child is also confined before it reads a job: an address-space cap (``RLIMIT_AS``: its
size at the fork plus ``memory``), a deep Python recursion limit for the policy parser, and --
unless it may call SERVICE hosts -- a seccomp filter that refuses ``socket(AF_INET/AF_INET6)``
and ``io_uring_setup`` (``network_sandbox``): whatever a query says, such a worker cannot open
a network connection. A worker that crashes (stack overflow in a parser, out of memory) costs
only its request (503) and is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import os
import pickle
import resource
import select
import signal
import socket
import stat
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from kg.errors import CatalogError, QueryTimeout, ResultTooLarge

_HEADER = struct.Struct("!Q")
READY = b"ready"
_PIPE_SAFE = 32 * 1024  # jobs up to this size are written to a pipe without blocking
#: a fresh worker must answer its readiness probe within this many seconds (a fork can inherit
#: a lock that another thread held at that instant; such a worker is replaced)
READY_TIMEOUT = 3.0


log = logging.getLogger(__name__)


class WorkerCrashed(CatalogError):
    status = 503


# --------------------------------------------------------------------------- confinement


def _sandbox_filter() -> object | None:
    """The seccomp filter (not loaded) that denies IPv4/IPv6 sockets; None if unavailable."""
    try:
        import pyseccomp as seccomp

        flt = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        for family in (socket.AF_INET, socket.AF_INET6):
            flt.add_rule(seccomp.ERRNO(errno.EACCES), "socket", seccomp.Arg(0, seccomp.EQ, family))
        flt.add_rule(seccomp.ERRNO(errno.EACCES), "io_uring_setup")
        return flt
    except Exception:  # no pyseccomp, no libseccomp, another kernel
        return None


_warned = False


def network_sandbox_available() -> bool:
    """Whether workers can be denied the network here (warns once, in the parent, if not)."""
    global _warned
    ok = _sandbox_filter() is not None
    if not ok and not _warned:
        _warned = True
        log.warning(
            "seccomp is not available (pyseccomp/libseccomp): SPARQL workers are not denied "
            "network sockets; the SERVICE policy rests on the parsed-query check alone."
        )
    return ok


def _deny_network() -> bool:
    flt = _sandbox_filter()
    if flt is None:
        return False
    try:
        flt.load()  # type: ignore[attr-defined]
    except Exception:
        return False
    return True


def _vm_size() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


#: a job running longer than this has its worker lowered to ``WORKER_NICENESS``: a query that
#: uses a whole core until its deadline does not slow /health and the other requests down
DEMOTE_AFTER = 0.25
WORKER_NICENESS = 10


def confine(memory: int, network: bool) -> bool:
    """Confine the calling (child) process: memory cap, recursion limit, no network unless
    ``network``. Returns whether the network is denied."""
    if memory > 0:
        cap = _vm_size() + memory
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    sys.setrecursionlimit(20_000)  # rdflib's parser recurses per nesting level
    return False if network else _deny_network()


@dataclass(frozen=True)
class Outcome:
    """What a worker sends back: a result or an error, both plain data."""

    ok: bool
    media_type: str = ""
    body: bytes = b""
    status: int = 0
    detail: Any = None
    kind: str = ""  # "timeout", "too_large" or "" for errors
    decision: Any = None  # the policy's decision when the worker made one (the parent keeps it)


# --------------------------------------------------------------------------- framing


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _send(fd: int, payload: bytes) -> None:
    _write_all(fd, _HEADER.pack(len(payload)) + payload)


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes | None:
    """``size`` bytes, or None at the deadline; ``EOFError`` if the writer is gone."""
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0:
                return None
            readable, _, _ = select.select([fd], [], [], wait)
            if not readable:
                return None
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _receive(fd: int, deadline: float | None) -> bytes | None:
    header = _read_exact(fd, _HEADER.size, deadline)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    return _read_exact(fd, size, deadline)


async def _receive_async(loop: asyncio.AbstractEventLoop, fd: int) -> bytes:
    """One frame, read as the pipe becomes readable; ``EOFError`` if the writer is gone."""
    buffer = bytearray()
    done: asyncio.Future[bytes] = loop.create_future()

    def readable() -> None:
        if done.done():
            return
        try:
            chunk = os.read(fd, 1 << 20)
        except OSError as exc:
            done.set_exception(exc)
            return
        if not chunk:
            done.set_exception(EOFError())
            return
        buffer.extend(chunk)
        if len(buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(buffer)
            if len(buffer) >= _HEADER.size + size:
                done.set_result(bytes(buffer[_HEADER.size : _HEADER.size + size]))

    loop.add_reader(fd, readable)
    try:
        return await done
    finally:
        loop.remove_reader(fd)


# --------------------------------------------------------------------------- the child


def _close_inherited(keep: set[int]) -> None:
    """Close inherited sockets and pipes: client connections must close when the parent closes
    them, and other workers' pipes must see end-of-file when their ends go away."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd in keep or fd <= 2:
            continue
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            continue
        if stat.S_ISSOCK(mode) or stat.S_ISFIFO(mode):
            with contextlib.suppress(OSError):
                os.close(fd)


def _child(
    requests: int,
    answers: int,
    target: Callable[[Any], Outcome],
    probe: Callable[[], None],
    grace: float,
    setup: Callable[[], None],
) -> None:
    gc.freeze()  # never collect (and run destructors of) the parent's objects here
    gc.disable()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)  # the kernel kills us at the deadline
    _close_inherited({requests, answers})
    setup()
    probe()
    _send(answers, READY)
    while True:
        try:
            message = _receive(requests, None)
        except (EOFError, OSError):
            return  # the parent is gone
        if message is None:
            return
        job, timeout = pickle.loads(message)
        signal.setitimer(signal.ITIMER_REAL, timeout + grace)
        try:
            outcome = target(job)
        except ResultTooLarge as exc:
            outcome = Outcome(False, status=exc.status, detail=exc.detail, kind="too_large")
        except CatalogError as exc:
            outcome = Outcome(False, status=exc.status, detail=exc.detail)
        except (MemoryError, RecursionError) as exc:
            detail = f"The query needs more memory or depth than allowed ({type(exc).__name__})."
            outcome = Outcome(False, status=503, detail=detail)
        except Exception as exc:  # reported to the caller as a 500 with a reference
            outcome = Outcome(False, status=500, detail=f"{type(exc).__name__}: {exc}")
        _send(answers, pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL))
        signal.setitimer(signal.ITIMER_REAL, 0)


# --------------------------------------------------------------------------- the parent


class _Worker:
    def __init__(self, pid: int, requests: int, answers: int, version: int) -> None:
        self.pid = pid
        self.requests = requests
        self.answers = answers
        self.version = version
        self.alive = True
        self.demoted = False  # lowered to WORKER_NICENESS during a long job: retired after it

    def demote(self) -> None:
        """Lower the worker's CPU priority (its job runs long)."""
        if self.alive and not self.demoted:
            self.demoted = True
            with contextlib.suppress(OSError):  # never raised: only ever lowered
                nice = max(os.getpriority(os.PRIO_PROCESS, self.pid), WORKER_NICENESS)
                os.setpriority(os.PRIO_PROCESS, self.pid, nice)

    def stop(self, sig: int = signal.SIGKILL) -> int | None:
        """Kill and reap; returns the signal that ended the process, if any."""
        if not self.alive:
            return None
        self.alive = False
        for fd in (self.requests, self.answers):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            return None
        return os.WTERMSIG(status) if os.WIFSIGNALED(status) else None


class WorkerPool:
    """Up to ``size`` warm workers; ``run`` sends one job and waits until its deadline."""

    def __init__(
        self,
        target: Callable[[Any], Outcome],
        *,
        size: int,
        version: Callable[[], int],
        fork_lock: threading.Lock,
        probe: Callable[[], None] = lambda: None,
        grace: float = 0.1,
        setup: Callable[[], None] = lambda: None,
        demote_after: float = DEMOTE_AFTER,
    ) -> None:
        self.target = target
        self.demote_after = demote_after
        self.setup = setup
        self.size = size
        self.version = version
        self.fork_lock = fork_lock
        self.probe = probe
        self.grace = grace
        self._slots = threading.BoundedSemaphore(size)
        self._mutex = threading.Lock()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._closed = False
        self.forks = 0  # statistics, for tests and benchmarks
        self.kills = 0

    # ------------------------------------------------------------------ workers

    def _fork(self) -> _Worker:
        req_r, req_w = os.pipe()
        ans_r, ans_w = os.pipe()
        with self.fork_lock:
            version = self.version()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child
                code = 0
                try:
                    os.close(req_w)
                    os.close(ans_r)
                    _child(req_r, ans_w, self.target, self.probe, self.grace, self.setup)
                except BaseException:
                    code = 1
                finally:
                    os._exit(code)
        os.close(req_r)
        os.close(ans_w)
        self.forks += 1
        worker = _Worker(pid, req_w, ans_r, version)
        try:
            ready = _receive(ans_r, time.monotonic() + READY_TIMEOUT)
        except EOFError:
            ready = None
        if ready != READY:
            worker.stop()
            raise WorkerCrashed("A query worker did not start.")
        return worker

    def _checkout(self) -> _Worker:
        current = self.version()
        stale: list[_Worker] = []
        worker: _Worker | None = None
        with self._mutex:
            if self._closed:
                raise WorkerCrashed("The query workers are shut down.")
            while self._idle:
                candidate = self._idle.pop()
                if candidate.version == current:
                    worker = candidate
                    break
                stale.append(candidate)
            stale += [w for w in self._idle if w.version != current]
            self._idle = [w for w in self._idle if w.version == current]
        for old in stale:
            old.stop()
        if worker is None:
            try:
                worker = self._fork()
            except WorkerCrashed:
                worker = self._fork()  # one retry: a fork can inherit a lock held elsewhere
        with self._mutex:
            self._busy.add(worker)
        return worker

    def _checkin(self, worker: _Worker) -> None:
        with self._mutex:
            self._busy.discard(worker)
            if worker.alive and not worker.demoted and not self._closed:
                self._idle.append(worker)
                return
        worker.stop()

    def _discard(self, worker: _Worker) -> int | None:
        with self._mutex:
            self._busy.discard(worker)
        return worker.stop()

    # ------------------------------------------------------------------ public

    def run(self, job: Any, timeout: float) -> Outcome:
        """Run ``target(job)`` in a worker; ``QueryTimeout`` when it passes ``timeout``."""
        started = time.monotonic()
        if not self._slots.acquire(timeout=timeout):
            raise QueryTimeout(timeout)
        try:
            worker = self._checkout()
            remaining = max(0.05, timeout - (time.monotonic() - started))
            deadline = time.monotonic() + remaining + self.grace + 0.5
            try:
                _send(worker.requests, pickle.dumps((job, remaining)))
                quick, _, _ = select.select([worker.answers], [], [], self.demote_after)
                if not quick:
                    worker.demote()
                message = _receive(worker.answers, deadline)
            except (EOFError, OSError):
                self._ended(worker, timeout)
            if message is None:
                self._timed_out(worker, timeout)
            self._checkin(worker)
        finally:
            self._slots.release()
        outcome: Outcome = pickle.loads(message)
        return outcome

    async def run_async(self, job: Any, timeout: float) -> Outcome:
        """``run`` for an event loop: the answer is awaited on the loop (no thread per query).

        Forking a worker, waiting for a free one and very large jobs go to a thread. A
        cancelled caller (the client went away) kills its worker, freeing the CPU.
        """
        loop = asyncio.get_running_loop()
        payload = pickle.dumps((job, timeout))
        if len(payload) > _PIPE_SAFE or not self._slots.acquire(blocking=False):
            return await loop.run_in_executor(None, self.run, job, timeout)
        try:
            started = time.monotonic()
            worker = self._take_warm()
            if worker is None:
                forking = loop.run_in_executor(None, self._checkout)
                try:
                    worker = await asyncio.shield(forking)
                except asyncio.CancelledError:  # hand the new worker back when it is ready
                    forking.add_done_callback(
                        lambda f: (
                            None if f.cancelled() or f.exception() else self._checkin(f.result())
                        )
                    )
                    raise
                remaining = max(0.05, timeout - (time.monotonic() - started))
                payload = pickle.dumps((job, remaining))
            else:
                remaining = timeout
            demotion = loop.call_later(self.demote_after, worker.demote)
            try:
                _send(worker.requests, payload)
                message = await asyncio.wait_for(
                    _receive_async(loop, worker.answers), remaining + self.grace + 0.5
                )
            except (EOFError, OSError):
                self._ended(worker, timeout)
            except TimeoutError:
                self._timed_out(worker, timeout)
            except asyncio.CancelledError:
                self._discard(worker)
                self.kills += 1
                raise
            finally:
                demotion.cancel()
            self._checkin(worker)
        finally:
            self._slots.release()
        outcome: Outcome = pickle.loads(message)
        return outcome

    def _take_warm(self) -> _Worker | None:
        """An idle worker on the current snapshot, or None (then ``_checkout`` forks)."""
        current = self.version()
        with self._mutex:
            if self._closed:
                return None
            for index in range(len(self._idle) - 1, -1, -1):
                if self._idle[index].version == current:
                    worker = self._idle.pop(index)
                    self._busy.add(worker)
                    return worker
        return None

    def _ended(self, worker: _Worker, timeout: float) -> NoReturn:
        ended_by = self._discard(worker)
        self.kills += 1
        if ended_by == signal.SIGALRM:
            raise QueryTimeout(timeout) from None
        raise WorkerCrashed(
            f"The query worker stopped (signal {ended_by}): the query crashed the parser or "
            "engine, or passed the memory limit. It was not answered; the worker is replaced."
        )

    def _timed_out(self, worker: _Worker, timeout: float) -> NoReturn:
        self._discard(worker)
        self.kills += 1
        raise QueryTimeout(timeout)

    @property
    def workers(self) -> list[int]:
        with self._mutex:
            return [w.pid for w in (*self._idle, *self._busy) if w.alive]

    def close(self) -> None:
        with self._mutex:
            self._closed = True
            workers = [*self._idle, *self._busy]
            self._idle = []
            self._busy = set()
        for worker in workers:
            worker.stop()
