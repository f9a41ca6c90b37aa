"""Upload and download speed of stored files over loopback (api/routes/files.py, kg/files).

For 1 MiB and 1 GiB files of random bytes: ``curl -T`` to ``PUT /datasets/{id}/files/{name}``
and ``curl -o`` from its GET, against ``cp`` of the same bytes on the same disk as the ceiling
(the goal is at least half of it). Each upload is a new name with new content (nothing
deduplicated); the server fsyncs every object. ``--s3``: the files go to the S3 back end,
moto's server on loopback (tests/support/s3.py; in-memory, so a ceiling of the back end's own
cost, not of a real object store). Prints the machine (bench/machine.py).

    .venv/bin/python -m bench.files [--large-mib 1024] [--small-runs 20] [--s3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from contextlib import ExitStack
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


def measure(base: str, identifier: str, source: Path, work: Path, runs: int) -> dict[str, float]:
    size = source.stat().st_size
    seconds: dict[str, list[float]] = {"cp": [], "upload": [], "download": []}
    for run in range(runs):
        # new bytes each run: the first 16 bytes differ, so no upload is deduplicated
        with source.open("r+b") as handle:
            handle.write(os.urandom(16))
        copy = work / f"copy-{run}"
        seconds["cp"].append(_timed(["cp", str(source), str(copy)]))
        copy.unlink()
        url = f"{base}/datasets/{identifier}/files/{source.name}-{run}"
        auth = f"Authorization: Bearer {ADMIN_KEY}"
        seconds["upload"].append(_timed(["curl", "-sSf", "-H", auth, "-T", str(source), url]))
        out = work / f"down-{run}"
        seconds["download"].append(_timed(["curl", "-sSf", "-o", str(out), url]))
        assert out.stat().st_size == size
        out.unlink()
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
                f"{'file':>10} {'cp MB/s':>10} {'upload':>10} {'ratio':>6} {'download':>10} "
                f"{'ratio':>6}"
            )
            for label, source, runs in cases:
                rates = measure(server.base_url, identifier, source, work, runs)
                print(
                    f"{label:>10} {rates['cp']:10.0f} {rates['upload']:10.0f} "
                    f"{rates['upload'] / rates['cp']:6.2f} {rates['download']:10.0f} "
                    f"{rates['download'] / rates['cp']:6.2f}"
                )
                source.unlink()


if __name__ == "__main__":
    main()
