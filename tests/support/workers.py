"""Connections pinned to each worker process of ``aiod-kg serve --workers 2``.

Which worker answers a connection is the kernel's choice: ``PinnedWorkers`` opens connections
until both process ids (``X-AIOD-KG-Worker``, AIOD_KG_WORKER_HEADER) have answered and sends
each request on a connection of the worker it names, checking the header of every answer."""

from __future__ import annotations

import time
from typing import Any

import httpx

HEADER = "x-aiod-kg-worker"


class PinnedWorkers:
    """One keep-alive connection per worker process of the server at ``base``."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.clients: dict[str, httpx.Client] = {}
        spare: list[httpx.Client] = []
        deadline = time.monotonic() + 60
        while len(self.clients) < 2:
            assert time.monotonic() < deadline, f"one worker only: {list(self.clients)}"
            client = httpx.Client(base_url=base, timeout=60)
            pid = client.get("/health").headers[HEADER]
            if pid in self.clients:
                spare.append(client)  # kept open, so the next connection may go elsewhere
            else:
                self.clients[pid] = client
        for client in spare:
            client.close()
        self.pids = sorted(self.clients)

    def request(self, pid: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """``method path`` answered by worker ``pid`` (a new connection when the old one was
        closed and the kernel gave its successor to the other worker)."""
        for _ in range(100):
            answer = self.clients[pid].request(method, path, **kwargs)
            if answer.headers.get(HEADER) == pid:
                return answer
            assert method == "GET", f"{method} {path} went to the other worker"
            self.clients[pid].close()
            self.clients[pid] = httpx.Client(base_url=self.base, timeout=60)
        raise AssertionError(f"worker {pid} did not answer {path}")

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
