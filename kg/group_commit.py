"""Group commit: writes that arrive while another is being committed are committed together.

The catalog serialises its writes under one lock, and a write's fixed costs (the lock, the
journal, a store transaction, an index transaction) dwarf what one asset adds to them. So a
caller does not take the lock itself: it submits its operation and waits. The first caller
that finds nobody committing becomes the *leader*: it takes the waiting operations (its own
first) and commits them with one call of ``commit``, which returns one outcome per operation --
a value, or the exception that operation alone raises. Every caller gets its own outcome in its
own thread. When the batch is done, the oldest caller still waiting leads the next one, so no
thread commits for others forever.

``key`` keeps two operations on the same thing out of one batch (the second waits for the
next batch and so sees the first's result, as it would have without batching): a batch is
the waiting operations in arrival order up to the first whose key is already in it.

``OwnedLock`` wraps the catalog's write lock to tell whether the calling thread holds it: a
thread that does (a read-modify-write around its write) commits directly, since a leader in
another thread would wait for that very lock.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from types import TracebackType
from typing import Generic, TypeVar

from kg.db.locks import WriteLock

Op = TypeVar("Op")
Out = TypeVar("Out")


class _Request(Generic[Op, Out]):
    __slots__ = ("done", "error", "lead", "op", "result", "wake")

    def __init__(self, op: Op) -> None:
        self.op = op
        self.wake = threading.Event()
        self.lead = False  # this caller commits the next batch
        self.done = False
        self.result: Out | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[Op, Out]):
    """Commit concurrently submitted operations in batches (see the module docstring)."""

    def __init__(
        self,
        commit: Callable[[Sequence[Op]], Sequence[Out | BaseException]],
        key: Callable[[Op], Hashable | None] = lambda op: None,
        max_batch: int = 256,
    ) -> None:
        self._commit = commit
        self._key = key
        self.max_batch = max_batch
        self._mutex = threading.Lock()
        self._waiting: deque[_Request[Op, Out]] = deque()
        self._leading = False
        # counters for benchmarks and tests: batches committed and operations in them
        self.batches = 0
        self.operations = 0

    def submit(self, op: Op) -> Out:
        """Commit ``op`` (alone or with others); its outcome, or raise its exception."""
        request: _Request[Op, Out] = _Request(op)
        with self._mutex:
            self._waiting.append(request)
            if not self._leading:
                self._leading = request.lead = True
        while not request.done:
            if request.lead:
                self._lead()
            else:
                request.wake.wait()
                request.wake.clear()
        if request.error is not None:
            raise request.error
        return request.result  # type: ignore[return-value]

    def _take(self) -> list[_Request[Op, Out]]:
        with self._mutex:
            batch: list[_Request[Op, Out]] = []
            keys: set[Hashable] = set()
            while self._waiting and len(batch) < self.max_batch:
                key = self._key(self._waiting[0].op)
                if key is not None:
                    if key in keys:
                        break
                    keys.add(key)
                batch.append(self._waiting.popleft())
            return batch

    def _lead(self) -> None:
        batch = self._take()
        try:
            outcomes: Sequence[Out | BaseException] = self._commit([r.op for r in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError("group commit: one outcome per operation expected")
        except BaseException as exc:  # the batch as a whole failed: each caller sees why
            outcomes = [exc] * len(batch)
        finally:
            # hand over first: whoever waits longest leads the next batch
            with self._mutex:
                self.batches += 1
                self.operations += len(batch)
                following = self._waiting[0] if self._waiting else None
                if following is None:
                    self._leading = False
                else:
                    following.lead = True
            for request in batch:
                request.lead = False
        for request, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                request.error = outcome
            else:
                request.result = outcome
            request.done = True
            request.wake.set()
        if following is not None:
            following.wake.set()


class OwnedLock:
    """A ``WriteLock`` that knows whether the current thread holds it (``held``)."""

    def __init__(self, lock: WriteLock) -> None:
        self.lock = lock
        self._local = threading.local()

    def held(self) -> bool:
        return bool(getattr(self._local, "depth", 0))

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if not self.lock.acquire(blocking, timeout):
            return False
        self._local.depth = getattr(self._local, "depth", 0) + 1
        return True

    def release(self) -> None:
        self._local.depth -= 1
        self.lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def close(self) -> None:
        self.lock.close()


__all__ = ["GroupCommit", "OwnedLock"]
