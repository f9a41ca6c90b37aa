"""The catalog's write lock, shared by every process (and machine) that writes the same catalog.

``WriteLock`` is what the catalog holds around a read-modify-write; two kinds implement it.

``ProcessLock`` is re-entrant within a thread (a ``threading.RLock``) and, around the
outermost hold, takes an exclusive ``flock`` on a file beside the catalogue index, so writers
in other processes (``aiod-kg serve --workers N``) wait too. A read-modify-write held under
it -- ``If-Match`` compared with the current ETag, then the write -- is therefore atomic
across processes: no lost update. The kernel drops the lock when a process dies, so a killed
worker never leaves it held. An in-memory catalog (no file) locks its threads only.

``AdvisoryLock`` is the same on PostgreSQL (``AIOD_KG_DATABASE``), for replicas on several
machines: around the outermost hold it takes a session advisory lock on a connection of its
own; PostgreSQL drops it when that connection ends, so a killed replica never leaves it held.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol


class WriteLock(Protocol):
    """A re-entrant lock that also excludes other processes writing the same catalog."""

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool: ...

    def release(self) -> None: ...

    def __enter__(self) -> bool: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def close(self) -> None: ...


class _ReentrantHold:
    """Re-entrant within this process (a ``threading.RLock`` counting holds); the outermost
    hold also takes the lock other processes see (``_take``) and the last release gives it
    back (``_give``)."""

    def __init__(self) -> None:
        self._threads = threading.RLock()
        self._depth = 0

    def _take(self) -> None:
        raise NotImplementedError

    def _give(self) -> None:
        raise NotImplementedError

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if not self._threads.acquire(blocking, timeout):
            return False
        if self._depth == 0:
            try:
                self._take()
            except BaseException:
                self._threads.release()
                raise
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        try:
            if self._depth == 0:
                self._give()
        finally:
            self._threads.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


class ProcessLock(_ReentrantHold):
    """A re-entrant lock across the threads of this process and the processes of a host."""

    def __init__(self, path: Path | None) -> None:
        super().__init__()
        self.path = path
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            assert self.path is not None
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            self._pid = os.getpid()  # a forked child opens its own description
        return self._fd

    def _take(self) -> None:
        if self.path is not None:
            fcntl.flock(self._file(), fcntl.LOCK_EX)

    def _give(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class AdvisoryLock(_ReentrantHold):
    """A re-entrant lock across threads, processes and machines: a PostgreSQL session advisory
    lock on ``key``, held on a connection made by ``connect`` for the lock alone."""

    def __init__(self, connect: Callable[[], Any], key: int) -> None:
        super().__init__()
        self._connect = connect
        self.key = key
        self._conn: Any = None
        self._pid = 0

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed or self._pid != os.getpid():
            self._conn = self._connect()
            self._pid = os.getpid()
        return self._conn

    def _take(self) -> None:
        try:
            self._connection().execute("SELECT pg_advisory_lock(%s)", (self.key,))
        except BaseException:
            self._conn = None  # a broken connection: the next hold makes a new one
            raise

    def _give(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        except Exception:  # the connection broke: PostgreSQL dropped the lock with it
            self._conn = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
