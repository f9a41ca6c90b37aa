"""Upload and download speed of stored files over loopback (api/routes/files.py, kg/files).

For 1 MiB and 1 GiB files of random bytes: ``curl -T`` to ``PUT /datasets/{id}/files/{name}``
and ``curl -o`` from its GET, against ``cp`` of the same bytes on the same disk as the ceiling
(and ``dd conv=fsync``, a copy made durable as the server makes every upload, for uploads)
(the goal is at least half of it), and, where Debian's ``nginx`` is installed, ``curl`` of the
same bytes to and from nginx on loopback (WebDAV ``PUT`` into a file, static ``GET``): the
ceiling of an HTTP round trip, which for a 1 MiB file is the per-request cost that ``cp`` does
not pay. Each upload is a new name with new content (nothing
deduplicated); the server fsyncs every object. ``--s3``: the files go to the S3 back end,
moto's server on loopback (tests/support/s3.py; in-memory, so a ceiling of the back end's own
cost, not of a real object store). Prints the machine (bench/machine.py).

    .venv/bin/python -m bench.files [--large-mib 1024] [--small-runs 20] [--s3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from bench.machine import describe
from bench.server import DISCARD, aiod_kg_server

ADMIN_KEY = "bench-files-admin-key"
MiB = 1024 * 1024


def _random_file(path: Path, size: int) -> Path:
    with path.open("wb") as out:
        left = size
        while left:
            chunk = os.urandom(min(left, 16 * MiB))
            out.write(chunk)
            left -= len(chunk)
    return path


def _timed(argv: list[str]) -> float:
    """Seconds one command takes."""
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


NGINX_CONF = """
daemon off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {work}/nginx-body;
    proxy_temp_path {work}/nginx-proxy;
    fastcgi_temp_path {work}/nginx-fastcgi;
    uwsgi_temp_path {work}/nginx-uwsgi;
    scgi_temp_path {work}/nginx-scgi;
    sendfile on;
    server {{
        listen 127.0.0.1:{port};
        root {work}/nginx-root;
        client_max_body_size 0;
        location / {{ dav_methods PUT; create_full_put_path on; }}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def nginx_anchor(work: Path) -> Iterator[str | None]:
    """Debian's nginx on loopback as a plain HTTP file server (None when it is not installed)."""
    binary = shutil.which("nginx") or next(
        (name for name in ("/usr/sbin/nginx",) if Path(name).exists()), None
    )
    if binary is None:
        yield None
        return
    for name in ("nginx-root", "nginx-body"):  # its workers run as another user under root
        (work / name).mkdir()
        (work / name).chmod(0o777)
    work.chmod(0o755)
    port = _free_port()
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(work=work, port=port))
    process = subprocess.Popen([binary, "-c", str(conf), "-e", str(work / "nginx-error.log")])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def measure(
    base: str, identifier: str, source: Path, work: Path, runs: int, anchor: str | None
) -> dict[str, float]:
    size = source.stat().st_size
    seconds: dict[str, list[float]] = {"cp": [], "cp_fsync": [], "upload": [], "download": []}
    if anchor:
        seconds.update({"curl_up": [], "curl_down": []})
    for run in range(runs):
        # new bytes each run: the first 16 bytes differ, so no upload is deduplicated
        with source.open("r+b") as handle:
            handle.write(os.urandom(16))
        copy = work / f"copy-{run}"
        seconds["cp"].append(_timed(["cp", str(source), str(copy)]))
        copy.unlink()
        # the server fsyncs what it stores: a durable copy is the fair local ceiling
        durable = ["dd", f"if={source}", f"of={copy}", "bs=1M", "conv=fsync", "status=none"]
        seconds["cp_fsync"].append(_timed(durable))
        copy.unlink()
        url = f"{base}/datasets/{identifier}/files/{source.name}-{run}"
        auth = f"Authorization: Bearer {ADMIN_KEY}"
        seconds["upload"].append(_timed(["curl", "-sSf", "-H", auth, "-T", str(source), url]))
        out = work / f"down-{run}"
        seconds["download"].append(_timed(["curl", "-sSf", "-o", str(out), url]))
        assert out.stat().st_size == size
        out.unlink()
        if anchor:
            plain = f"{anchor}/{source.name}-{run}"
            seconds["curl_up"].append(_timed(["curl", "-sSf", "-T", str(source), plain]))
            seconds["curl_down"].append(_timed(["curl", "-sSf", "-o", str(out), plain]))
            out.unlink()
            (work / "nginx-root" / f"{source.name}-{run}").unlink()
    return {name: size / statistics.median(values) / 1e6 for name, values in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large-mib", type=int, default=1024)
    parser.add_argument("--small-runs", type=int, default=20)
    parser.add_argument("--large-runs", type=int, default=2)
    parser.add_argument("--s3", action="store_true", help="the S3 back end (moto's server)")
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory(prefix="bench-files-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        env = {
            "AIOD_KG_ADMIN_KEY": ADMIN_KEY,
            "AIOD_KG_SEARCH_ENABLED": "false",
            "AIOD_KG_FILES_MAX_BYTES": str(8 * 1024 * MiB),
            "AIOD_KG_FILES_USER_QUOTA_BYTES": "0",
        }
        if args.s3:
            from tests.support.s3 import running_s3

            s3 = stack.enter_context(running_s3())
            env.update(s3.env(s3.location()))
            print(f"back end: S3 (moto server at {s3.endpoint})")
        anchor = stack.enter_context(nginx_anchor(work))
        print(f"HTTP anchor: {'nginx ' + anchor if anchor else 'none (nginx is not installed)'}")
        with aiod_kg_server(work / "store", env=env, log=DISCARD) as server:
            created = httpx.post(
                f"{server.base_url}/datasets",
                json={"name": "bench files"},
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            )
            created.raise_for_status()
            identifier = created.json()["identifier"]
            cases = (
                ("1 MiB", _random_file(work / "small.bin", MiB), args.small_runs),
                (
                    f"{args.large_mib} MiB",
                    _random_file(work / "large.bin", args.large_mib * MiB),
                    args.large_runs,
                ),
            )
            print(
                f"{'file':>10} {'cp MB/s':>9} {'+fsync':>9} {'upload':>9} {'/cp':>5} {'/+sync':>6}"
                f" {'download':>9} "
                f"{'/cp':>5} {'nginx up':>9} {'/nginx':>6} {'nginx dn':>9} {'/nginx':>6}"
            )
            for label, source, runs in cases:
                rates = measure(server.base_url, identifier, source, work, runs, anchor)
                row = (
                    f"{label:>10} {rates['cp']:9.0f} {rates['cp_fsync']:9.0f} "
                    f"{rates['upload']:9.0f} {rates['upload'] / rates['cp']:5.2f} "
                    f"{rates['upload'] / rates['cp_fsync']:6.2f} {rates['download']:9.0f} "
                    f"{rates['download'] / rates['cp']:5.2f}"
                )
                if anchor:
                    row += (
                        f" {rates['curl_up']:9.0f} {rates['upload'] / rates['curl_up']:6.2f}"
                        f" {rates['curl_down']:9.0f} {rates['download'] / rates['curl_down']:6.2f}"
                    )
                print(row)
                source.unlink()


if __name__ == "__main__":
    main()
