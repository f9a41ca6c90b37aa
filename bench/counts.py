"""``GET /counts`` and the size of an OAI-PMH list at catalogue scale: the maintained counts
(kg/store/counts.py) against the queries they replaced, on synthetic index rows.

    python bench/counts.py [--rows 1000000] [--repeat 200] [--database postgresql://...]
                           [--path catalog.sqlite]

(``--path``: a SQLite file kept between runs; filled when new, reused as it is otherwise.)

Rows are written straight into a fresh ``CatalogIndex`` through ``commit_entries`` (no RDF):
every asset type, five platforms, 98% published and the rest drafts, submissions and
restricted assets owned by 500 users, then 0.5% deleted and 0.5% withdrawn. Then, for each
reader (anonymous, an owner of 20 drafts, a reviewer, a connector, the admin) the
``/counts`` answer (``AccessControl.count_by_platform``) and for OAI-PMH the first page's
``completeListSize`` (every type, one set, a from/until window) are timed: ``before`` is the
query of the code before (one pass over the rows), ``after`` the one now; both must agree.
p50/p99 in milliseconds, the machine's load beside them (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import describe
from kg.access.rules import AccessControl, Principal, visible_where
from kg.db.database import Database, PostgresDatabase, SqliteDatabase
from kg.model.fields import ASSET_TYPES
from kg.store import counts
from kg.store.index import CatalogIndex, Entry
from kg.store.public_index import PublicIndex

PLATFORMS = ("openml", "zenodo", "huggingface", "example", "aiod")
READERS = {
    "anonymous": Principal(),
    "owner": Principal("user", "alice"),
    "reviewer": Principal("user", "rita", roles=frozenset({"review_aiod_resources"})),
    "connector": Principal("api_key", "aiod-kg:apikey:x", roles=frozenset({"platform_openml"})),
    "admin": Principal("admin", "aiod-kg:admin", admin=True),
}


def fill(index: CatalogIndex, access: AccessControl, rows: int, batch: int = 20_000) -> None:
    rng = random.Random(14)
    types = list(ASSET_TYPES)
    owners: list[tuple[str, str, str]] = []
    ids: list[str] = []
    for start in range(0, rows, batch):
        entries = []
        for i in range(start, min(rows, start + batch)):
            roll = rng.random()
            status = (
                "published"
                if roll < 0.98
                else "draft"
                if roll < 0.99
                else "submitted"
                if roll < 0.995
                else "restricted"
            )
            day = f"20{10 + i % 15:02d}-{1 + i % 12:02d}-{1 + i % 28:02d}T00:00:00"
            identifier = f"asset_{i:012x}{rng.randrange(16**8):08x}"
            ids.append(identifier)
            platform = "aiod" if status != "published" else rng.choice(PLATFORMS)
            entries.append(Entry(identifier, rng.choice(types), platform, str(i), status, day, day))
            if status != "published":
                owners.append((identifier, f"user{rng.randrange(500)}", day))
        index.commit_entries(entries)
    drafts = [o for o in owners if o[1] != "alice"][:20]
    owners += [(identifier, "alice", day) for identifier, _, day in drafts]
    with index.transaction() as db:
        db.executemany(
            "INSERT INTO asset_owners (identifier, owner, created_at) VALUES (?,?,?)"
            " ON CONFLICT(identifier) DO UPDATE SET owner = excluded.owner",
            owners,
        )
    chosen = rng.sample(ids, rows // 100)
    half = len(chosen) // 2
    index.commit_entries([], [(i, "") for i in chosen[:half]], "2030-01-01T00:00:00")
    withdrawn = [index.get(i) for i in chosen[half:]]
    index.commit_entries(
        [
            Entry(
                e.identifier,
                e.type,
                e.platform,
                e.platform_resource_identifier,
                "draft",
                e.date_created,
                "2030-01-02T00:00:00",
            )
            for e in withdrawn
            if e is not None
        ]
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(call: Callable[[], object], repeat: int) -> tuple[object, list[float]]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - t0) * 1000)
    return result, times


def report(label: str, before: list[float], after: list[float]) -> None:
    print(
        f"{label:<28} before p50_ms={percentile(before, 0.5):9.1f} "
        f"p99_ms={percentile(before, 0.99):9.1f}   after p50_ms={percentile(after, 0.5):7.2f} "
        f"p99_ms={percentile(after, 0.99):7.2f}   load={os.getloadavg()[0]:.2f}",
        flush=True,
    )


def old_oai_count(
    index: CatalogIndex, types: list[str], platform: str | None, window: tuple[str, str] | None
) -> int:
    """The size query before (kg/store/public_index.py ``count_changes``)."""
    where = [
        f"type IN ({','.join('?' * len(types))})",
        "identifier IN (SELECT identifier FROM public_ever)",
    ]
    args: list[object] = list(types)
    if platform is not None:
        where.append("platform = ?")
        args.append(platform)
    if window is not None:
        where += ["date_modified >= ?", "date_modified <= ?"]
        args += list(window)
    sql = f"SELECT COUNT(*) FROM assets WHERE {' AND '.join(where)}"
    return int(index.connection().execute(sql, args).fetchone()[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=200, help="calls timed per figure (after)")
    parser.add_argument("--repeat-before", type=int, default=5, help="calls of the old queries")
    parser.add_argument("--database", help="a PostgreSQL URL (default: a SQLite file)")
    parser.add_argument("--path", type=Path, help="the SQLite file (reused if it exists)")
    args = parser.parse_args(argv)
    print(describe(("pyoxigraph", "psycopg")))
    with tempfile.TemporaryDirectory(prefix="aiodkg-counts-") as tmp:
        database: Database = (
            PostgresDatabase(args.database, f"bench_counts_{os.getpid()}")
            if args.database
            else SqliteDatabase(args.path or Path(tmp) / "catalog.sqlite")
        )
        index = CatalogIndex(database)
        access, public = AccessControl(index), PublicIndex(index)
        started = time.perf_counter()
        if index.count_by_platform() == {}:
            fill(index, access, args.rows)
        args.rows = index.connection().execute("SELECT COUNT(*) FROM assets").fetchone()[0]
        if index.dialect == "postgresql":
            index.connection().execute("ANALYZE")
        filled = time.perf_counter() - started
        print(f"engine={index.dialect} rows={args.rows} filled in {filled:.1f} s", flush=True)
        for name, principal in READERS.items():

            def scan(p: Principal = principal) -> counts.Counts:
                return counts.scan(index.connection(), None, visible_where(p))

            def maintained(p: Principal = principal) -> counts.Counts:
                return access.count_by_platform(p)

            old, before = timed(scan, args.repeat_before)
            new, after = timed(maintained, args.repeat)
            assert old == new, (name, old, new)
            report(f"/counts {name}", before, after)
        types = list(ASSET_TYPES)
        lists = {
            "oai every type": (types, None, None),
            "oai set datasets:openml": (["datasets"], "openml", None),
            "oai from/until (1 year)": (
                types,
                None,
                ("2015-01-01T00:00:00", "2015-12-31T23:59:59"),
            ),
        }
        for label, (chosen, platform, window) in lists.items():
            since, until = window if window else (None, None)

            def before_call(
                c: list[str] = chosen, p: str | None = platform, w: tuple[str, str] | None = window
            ) -> int:
                return old_oai_count(index, c, p, w)

            def after_call(
                c: list[str] = chosen,
                p: str | None = platform,
                s: str | None = since,
                u: str | None = until,
            ) -> int:
                return public.count_changes(c, p, s, u)

            old, before = timed(before_call, args.repeat_before)
            new, after = timed(after_call, args.repeat)
            assert old == new, (label, old, new)
            report(f"{label} ({new})", before, after)
        if index.dialect == "postgresql":
            index.connection().execute(f'DROP SCHEMA "{database.name}" CASCADE')
        index.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
