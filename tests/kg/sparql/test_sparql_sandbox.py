"""The query workers' OS confinement: no network sockets (seccomp) unless SERVICE hosts are
allowed, a memory cap, and a crash that costs only the request."""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Callable

import pytest

from kg.sparql.workers import Outcome, WorkerCrashed, WorkerPool, confine


def _pool(
    target: Callable[[object], Outcome], network: bool, memory: int = 256 * 1024 * 1024
) -> WorkerPool:
    def setup() -> None:
        confine(memory, network)

    return WorkerPool(target, size=1, version=lambda: 0, fork_lock=threading.Lock(), setup=setup)


def try_socket(_: object) -> Outcome:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM):
            return Outcome(True, body=b"opened")
    except OSError as exc:
        return Outcome(True, body=f"refused {exc.errno}".encode())


def test_a_worker_without_allowed_services_cannot_open_sockets() -> None:
    pool = _pool(try_socket, network=False)
    try:
        assert pool.run(None, 5).body.startswith(b"refused")
    finally:
        pool.close()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM):  # the parent is unaffected
        pass


def test_a_worker_with_allowed_services_may() -> None:
    pool = _pool(try_socket, network=True)
    try:
        assert pool.run(None, 5).body == b"opened"
    finally:
        pool.close()


def hog(_: object) -> Outcome:
    block = bytearray(512 * 1024 * 1024)  # past the 256 MiB cap
    return Outcome(True, body=bytes(block[:1]))


def crash(_: object) -> Outcome:
    os.kill(os.getpid(), signal.SIGSEGV)
    return Outcome(True)


def test_memory_cap_and_crash_cost_only_the_request() -> None:
    pool = _pool(hog, network=False)
    try:
        outcome = pool.run(None, 5)
        assert not outcome.ok and outcome.status == 503 and "memory" in outcome.detail
    finally:
        pool.close()
    pool = _pool(crash, network=False)
    try:
        with pytest.raises(WorkerCrashed) as caught:
            pool.run(None, 5)
        assert caught.value.status == 503
        assert pool.workers == []  # the crashed worker is gone; the next run forks anew
    finally:
        pool.close()
