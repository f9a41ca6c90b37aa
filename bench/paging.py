"""List paging cost against the offset: the catalogue index (kg/store/index.py) answering
``GET /{type}?offset=&limit=100`` for every order, on synthetic rows.

    python bench/paging.py [--rows 1000000] [--repeat 30]

Rows are written straight into a fresh ``CatalogIndex`` (one type, a small cached document
with a name so that ``sort=name`` has keys); each (order, offset) pair is paged ``--repeat``
times, and p50/p99 printed in milliseconds, one line each. ``first`` is the first deep page
after a write (what a reader pays once per change of the type). Machine load is printed
beside the figures (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import describe
from kg.store.index import CatalogIndex, Entry

ORDERS: tuple[tuple[str | None, bool], ...] = (
    (None, False),
    (None, True),
    ("name", False),
    ("date_modified", True),
    ("identifier", False),
)


def fill(index: CatalogIndex, rows: int, batch: int = 20_000) -> None:
    rng = random.Random(14)
    for start in range(0, rows, batch):
        entries = []
        for i in range(start, min(rows, start + batch)):
            day = f"20{10 + i % 15:02d}-{1 + i % 12:02d}-{1 + i % 28:02d}T00:00:00"
            name = f"asset {rng.randrange(10**9):09d}"
            entries.append(
                Entry(
                    f"data_{i:012x}{rng.randrange(16**8):08x}",
                    "datasets",
                    "example",
                    str(i),
                    "published",
                    day,
                    day,
                    document=b'{"name": "%s"}' % name.encode(),
                )
            )
        index.commit_entries(entries)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args(argv)
    print(describe(()))
    offsets = [o for o in (0, 10_000, 100_000, 1_000_000) if o < args.rows]
    offsets.append(args.rows - args.limit)  # the last page
    with tempfile.TemporaryDirectory(prefix="aiodkg-paging-") as tmp:
        index = CatalogIndex(Path(tmp) / "index.sqlite")
        started = time.perf_counter()
        fill(index, args.rows)
        print(f"rows={args.rows} filled in {time.perf_counter() - started:.1f} s")
        for sort, descending in ORDERS:
            label = f"{sort or 'insertion'}{' desc' if descending else ''}"
            for offset in offsets:
                times = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    page = index.page(
                        "datasets", offset, args.limit, sort=sort, descending=descending
                    )
                    times.append((time.perf_counter() - t0) * 1000)
                    assert len(page) == args.limit, (label, offset, len(page))
                print(
                    f"order={label} offset={offset} p50_ms={percentile(times, 0.5):.2f} "
                    f"p99_ms={percentile(times, 0.99):.2f} first_ms={times[0]:.2f} "
                    f"load={os.getloadavg()[0]:.2f}"
                )
        # a write, then the first deep page (the cost of a change)
        for sort in (None, "name"):
            index.commit_entries(
                [Entry("data_new", "datasets", None, None, "published", "2030", "2030")]
            )
            t0 = time.perf_counter()
            index.page("datasets", offsets[-1], args.limit, sort=sort)
            print(
                f"after_write order={sort or 'insertion'} offset={offsets[-1]} "
                f"first_ms={(time.perf_counter() - t0) * 1000:.2f} load={os.getloadavg()[0]:.2f}"
            )
        index.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
