"""What authentication and access control cost per request.

    .venv/bin/python bench/auth.py [--assets 50000]

Prints: access-token validation (RS256, cached JWKS), API-key lookup, the read check of one
asset (published / draft), and listing and counting pages of what a caller may read (anonymous,
a user with grants, an admin) over a catalogue index of ``--assets`` rows (a tenth of them
non-public), at the first and the last page. Then the machine.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kg.access.rules import ANONYMOUS, AccessControl, Principal
from kg.errors import NotFound
from kg.model.fields import ASSET_TYPES
from kg.store.index import CatalogIndex, Entry


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median microseconds per call over ``repeat`` calls (after a warm-up)."""
    for _ in range(min(50, repeat)):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem = next(
            line
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ).split()[1]
        memory = f"{int(mem) / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        memory = "?"
    import os

    libs = ", ".join(f"{n} {version(n)}" for n in ("joserfc", "authlib", "fastapi"))
    return (
        f"machine: {os.cpu_count()} cpus, {model}, {memory}; python "
        f"{platform.python_version()}; sqlite {__import__('sqlite3').sqlite_version}; {libs}"
    )


def bench_tokens() -> None:
    from joserfc import jwt
    from joserfc.jwk import KeySet, RSAKey

    from api.auth.tokens import OidcValidator
    from kg.settings import Settings

    key = RSAKey.generate_key(2048, parameters={"kid": "k", "alg": "RS256"})
    issuer = "https://auth.example.org/realms/aiod"
    settings = Settings(oidc_issuer=issuer, oidc_audience="aiod", oidc_jwks_url="unused")
    validator = OidcValidator(settings)
    validator._keys, validator._fetched = KeySet([key]), time.monotonic()  # cached JWKS
    now = int(time.time())
    token = jwt.encode(
        {"alg": "RS256", "kid": "k"},
        {
            "iss": issuer,
            "aud": "aiod",
            "sub": "u",
            "exp": now + 3600,
            "iat": now,
            "realm_access": {"roles": ["edit_aiod_resources"]},
        },
        key,
    )
    took = timed(lambda: validator.validate(token), 2000)
    print(f"access token validation (RS256, cached JWKS): {took:.0f} us")
    validator.close()


def bench_index(n: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        index = CatalogIndex(Path(folder) / "catalog.sqlite")
        access = AccessControl(index)
        entries = []
        for i in range(n):
            status = "published" if i % 10 else ("draft", "submitted", "restricted")[i // 10 % 3]
            entries.append(
                Entry(
                    f"data_{i:024d}",
                    "datasets",
                    "example" if i % 2 else "aiod",
                    str(i),
                    status,
                    "2024-01-01T00:00:00",
                    "2024-01-01T00:00:00",
                    document=b'{"name": "x"}',
                )
            )
        index.commit_entries(entries)
        for i in range(0, n, 20):
            access.set_owner(f"data_{i:024d}", "alice")
        for i in range(0, n, 100):
            access.set_grants(f"data_{i:024d}", [("group", "lab", "read")], "alice")
        _, secret = access.create_key("bot", ["platform_openml"], "bench")
        dataset = ASSET_TYPES["datasets"]
        missing = NotFound("x")
        published, draft = f"data_{1:024d}", f"data_{0:024d}"
        alice = Principal("user", "alice", groups=frozenset({"lab"}))
        admin = Principal("admin", "admin", admin=True)
        print(f"API key lookup: {timed(lambda: access.key_principal(secret), 2000):.0f} us")
        took = timed(lambda: access.check_read(ANONYMOUS, dataset, published, missing), 5000)
        print(f"read check, published asset: {took:.0f} us")
        print(
            f"read check, the owner's draft: "
            f"{timed(lambda: access.check_read(alice, dataset, draft, missing), 5000):.0f} us"
        )
        print(f"catalogue index: {n} datasets, {n // 10} non-public")
        for label, who in (("anonymous", ANONYMOUS), ("user with grants", alice), ("admin", admin)):
            first = timed(partial(access.page, who, "datasets", 0, 100), 200)
            last = timed(partial(access.page, who, "datasets", n * 8 // 10, 100), 50)
            count = timed(partial(access.count, who, "datasets"), 50)
            print(
                f"  {label:17s} page of 100 at offset 0: {first / 1000:.2f} ms, "
                f"at offset {n * 8 // 10}: {last / 1000:.2f} ms; count: {count / 1000:.2f} ms"
            )
        index.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assets", type=int, default=50_000)
    args = parser.parse_args()
    bench_tokens()
    bench_index(args.assets)
    print(machine())


if __name__ == "__main__":
    main()
