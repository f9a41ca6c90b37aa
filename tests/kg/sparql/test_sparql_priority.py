"""The query workers' CPU priority: a short job runs at the server's priority on a warm worker
that is kept; a job still running after ``demote_after`` is lowered to ``WORKER_NICENESS`` (so a
runaway query yields the CPU to the server) and its worker is retired after it, since an
unprivileged process cannot raise a priority again."""

from __future__ import annotations

import asyncio
import os
import threading
import time

from kg.sparql.workers import WORKER_NICENESS, Outcome, WorkerPool


def own_niceness(seconds: object) -> Outcome:
    """Sleep (a stand-in for a long evaluation), then report this process's niceness."""
    time.sleep(float(seconds))  # type: ignore[arg-type]
    return Outcome(True, body=f"{os.getpid()} {os.getpriority(os.PRIO_PROCESS, 0)}".encode())


def _pool() -> WorkerPool:
    return WorkerPool(
        own_niceness, size=1, version=lambda: 0, fork_lock=threading.Lock(), demote_after=0.2
    )


def _answer(outcome: Outcome) -> tuple[int, int]:
    pid, nice = outcome.body.decode().split()
    return int(pid), int(nice)


def test_a_short_job_keeps_the_servers_priority_and_its_worker() -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    pool = _pool()
    try:
        first = _answer(pool.run(0.0, 5))
        second = _answer(pool.run(0.0, 5))
        assert first == second == (first[0], base)  # same warm worker, not lowered
        assert pool.forks == 1
    finally:
        pool.close()


def test_a_long_job_is_lowered_and_its_worker_retired() -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    pool = _pool()
    try:
        slow_pid, slow_nice = _answer(pool.run(1.0, 5))
        assert slow_nice == max(base, WORKER_NICENESS)
        assert slow_pid not in pool.workers  # retired after its job
        fresh_pid, fresh_nice = _answer(pool.run(0.0, 5))
        assert fresh_pid != slow_pid and fresh_nice == base
    finally:
        pool.close()


def test_the_event_loop_path_lowers_a_long_job_too() -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    pool = _pool()

    async def both() -> tuple[tuple[int, int], tuple[int, int]]:
        quick = _answer(await pool.run_async(0.0, 5))
        slow = _answer(await pool.run_async(1.0, 5))
        return quick, slow

    try:
        pool.run(0.0, 5)  # a warm worker, so run_async answers on the loop
        (quick_pid, quick_nice), (slow_pid, slow_nice) = asyncio.run(both())
        assert quick_nice == base and quick_pid == slow_pid
        assert slow_nice == max(base, WORKER_NICENESS) and slow_pid not in pool.workers
    finally:
        pool.close()
