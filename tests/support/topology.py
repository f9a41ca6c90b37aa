"""The cluster tier as processes on loopback (issue 13, deploy/compose.yaml without containers):
PostgreSQL (the relational state, tests/support/postgres.py), one Oxigraph server per
partition (public and private, tests/support/engines.py), N ``aiod-kg serve`` replicas
(tests/support/server.py's ``running_server``) and Debian's nginx balancing them round robin.

Every replica has the same ``AIOD_KG_STORE`` / ``AIOD_KG_PRIVATE_STORE`` (the two Oxigraph
servers), ``AIOD_KG_DATABASE`` (the PostgreSQL database), ``AIOD_KG_FILES`` (one shared
folder), ``AIOD_KG_BASE_URL`` (the balancer's address: IRIs name the service, not a replica)
and admin key; each has its own ``AIOD_KG_DATA_DIR`` (search index, local caches).

``cluster(folder, postgres_url)`` starts everything and stops everything it started, however
the test ends; ``Cluster.kill`` / ``stop`` / ``start`` act on one replica (its port is kept, so
nginx finds it again). nginx runs in the foreground with its configuration, pid file, logs and
temporary folders under ``folder``; ``proxy_next_upstream error timeout`` skips a stopped
replica, so the balancer keeps answering while one is down.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.engines import Engine, start_oxigraph
from tests.support.server import LiveServer, free_port, running_server, wait_for

#: settings every replica of the test topology shares unless the test overrides them
REPLICA_ENV: dict[str, str] = {
    "AIOD_KG_WORKER_HEADER": "true",  # which process answered (X-AIOD-KG-Worker)
    "AIOD_KG_SEARCH_MODEL": "static",  # cheap vectors: three replicas share two cores
    "AIOD_KG_SEARCH_WARMUP": "false",
    "AIOD_KG_WRITE_RATE_LIMIT": "0",
}

#: what every replica shares with the others (deploy/compose.yaml sets the same)
REPLICA_SHARED = (
    "AIOD_KG_STORE",
    "AIOD_KG_PRIVATE_STORE",
    "AIOD_KG_DATABASE",
    "AIOD_KG_FILES",
    "AIOD_KG_BASE_URL",
)

NGINX_CONF = """\
worker_processes 1;
{user}pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    client_max_body_size 64m;
    upstream aiodkg {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://aiodkg;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_connect_timeout 2s;
            proxy_read_timeout 300s;
            proxy_request_buffering off;
            proxy_next_upstream error timeout;
            proxy_next_upstream_tries 3;
            add_header X-AIOD-KG-Upstream $upstream_addr always;
        }}
    }}
}}
"""


def nginx_binary() -> str | None:
    """Debian's nginx (``.ci/run`` installs it), or None."""
    debian = Path("/usr/sbin/nginx")
    return shutil.which("nginx") or (str(debian) if debian.exists() else None)


def nginx_config(folder: Path, port: int, upstreams: list[int]) -> str:
    """nginx.conf balancing ``upstreams`` (loopback ports) round robin on ``port``."""
    servers = "\n".join(
        f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;" for p in upstreams
    )
    user = "user root;\n" if os.geteuid() == 0 else ""
    return NGINX_CONF.format(user=user, folder=folder, port=port, servers=servers)


@contextmanager
def nginx(folder: Path, port: int, upstreams: list[int]) -> Iterator[subprocess.Popen[bytes]]:
    """nginx in the foreground on 127.0.0.1:``port``; stopped (QUIT, then KILL) on leaving."""
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed (apt-get install nginx)")
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "nginx.conf"
    conf.write_text(nginx_config(folder, port, upstreams))
    command = [binary, "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(conf)]
    subprocess.run([*command, "-t"], check=True, capture_output=True)
    with (folder / "stdout.log").open("ab") as out:
        process = subprocess.Popen(
            [*command, "-g", "daemon off;"], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                log = (folder / "error.log").read_text(errors="replace")
                raise RuntimeError(f"nginx exited ({process.returncode}): {log[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline:
                raise TimeoutError("nginx did not listen")
            time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGQUIT)  # graceful: its worker ends with it
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class Replica:
    """One ``aiod-kg serve`` of the topology (its port and data folder survive a restart)."""

    index: int
    port: int
    data_dir: Path
    log: Path
    server: LiveServer | None = None
    context: AbstractContextManager[LiveServer] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    """A running topology: ``url`` is nginx's, ``replicas`` answer on their own ports too."""

    url: str
    database: str
    public: Engine
    private: Engine
    files: Path
    replicas: list[Replica]
    env: dict[str, str]

    def start(self, index: int, ready_timeout: float = 180.0) -> LiveServer:
        """(Re)start replica ``index`` on its port, with its data folder."""
        replica = self.replicas[index]
        if replica.server is not None and replica.server.process.poll() is None:
            return replica.server
        self._forget(replica)
        context = running_server(
            self.public.url,
            env={**self.env, "AIOD_KG_DATA_DIR": str(replica.data_dir)},
            set_base_url=False,  # AIOD_KG_BASE_URL is the balancer's (self.env)
            port=replica.port,
            log=replica.log,
            ready_timeout=ready_timeout,
        )
        replica.server = context.__enter__()
        replica.context = context
        return replica.server

    def stop(self, index: int) -> None:
        """Stop replica ``index`` as an operator would (SIGTERM, then SIGKILL)."""
        self._forget(self.replicas[index])

    def kill(self, index: int) -> None:
        """SIGKILL replica ``index`` (and the worker processes it started: its group is not
        its own, so only the replica's own process is signalled; its children die with it)."""
        replica = self.replicas[index]
        if replica.server is not None and replica.server.process.poll() is None:
            replica.server.process.send_signal(signal.SIGKILL)
            replica.server.process.wait(timeout=30)
        self._forget(replica)

    def _forget(self, replica: Replica) -> None:
        if replica.context is not None:
            context, replica.context, replica.server = replica.context, None, None
            context.__exit__(None, None, None)

    def running(self) -> list[Replica]:
        return [r for r in self.replicas if r.server and r.server.process.poll() is None]


@contextmanager
def cluster(
    folder: Path,
    database: str,
    *,
    replicas: int = 3,
    env: Mapping[str, str] | None = None,
    admin_key: str | None = None,
) -> Iterator[Cluster]:
    """Start the topology under ``folder`` on the PostgreSQL database ``database`` (a URL);
    stop all of it on leaving, in reverse order."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with ExitStack() as stack:
        public = start_oxigraph(folder / "oxigraph-public")
        stack.callback(public.stop)
        private = start_oxigraph(folder / "oxigraph-private")
        stack.callback(private.stop)
        files = folder / "files"
        files.mkdir(exist_ok=True)
        shared = {
            **REPLICA_ENV,
            "AIOD_KG_STORE": public.url,  # what running_server sets too
            "AIOD_KG_PRIVATE_STORE": private.url,
            "AIOD_KG_DATABASE": database,
            "AIOD_KG_FILES": str(files),
            "AIOD_KG_BASE_URL": url,
            **(env or {}),
        }
        assert set(REPLICA_SHARED) <= set(shared)
        if admin_key is not None:
            shared["AIOD_KG_ADMIN_KEY"] = admin_key
        members = [
            Replica(n, free_port(), folder / f"replica{n}", folder / f"replica{n}.log")
            for n in range(replicas)
        ]
        topology = Cluster(url, database, public, private, files, members, shared)
        for member in members:
            stack.callback(topology.stop, member.index)
        # the first replica alone makes the schemas and the store's base URL; then the others
        topology.start(0)
        for member in members[1:]:
            topology.start(member.index)
        stack.enter_context(nginx(folder / "nginx", port, [m.port for m in members]))
        wait_for(f"{url}/health", timeout=30)
        yield topology
