"""The catalog's write lock, shared by every process that writes the same catalog.

``ProcessLock`` is re-entrant within a thread (a ``threading.RLock``) and, around the
outermost hold, takes an exclusive ``flock`` on a file beside the catalogue index, so writers
in other processes (``aiod-kg serve --workers N``) wait too. A read-modify-write held under
it -- ``If-Match`` compared with the current ETag, then the write -- is therefore atomic
across processes: no lost update. The kernel drops the lock when a process dies, so a killed
worker never leaves it held. An in-memory catalog (no file) locks its threads only.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from types import TracebackType


class ProcessLock:
    """A re-entrant lock across the threads of this process and the processes of a host."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._threads = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            assert self.path is not None
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            self._pid = os.getpid()  # a forked child opens its own description
        return self._fd

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if not self._threads.acquire(blocking, timeout):
            return False
        if self._depth == 0 and self.path is not None:
            try:
                fcntl.flock(self._file(), fcntl.LOCK_EX)
            except BaseException:
                self._threads.release()
                raise
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
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

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
