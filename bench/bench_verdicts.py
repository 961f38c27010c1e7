"""Benchmark: verdict stores. Durable writes (one verdict per request, and batches of 100) and the
two reads mining makes per request when an item has verdicts (an item's present negatives, a
positive's counts for 30 phrases), on SQLite (WAL, synchronous=FULL) and on a private
redis-server with appendfsync always started on a free port.

    python bench/bench_verdicts.py [--verdicts 2000] [--no-redis]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from hardneg.miners.verdicts import Verdict, VerdictKind
from hardneg.service.verdicts.store import SqliteVerdictStore, VerdictStore
from hardneg.service.verdicts.store_redis import RedisVerdictStore

KINDS = list(VerdictKind)


def verdicts(n: int, start: int = 0) -> list[Verdict]:
    """n verdicts over 200 items and 50 positives, 30 negatives each."""
    return [
        Verdict(
            id=f"v{i}",
            item_id=f"img-{i % 200}",
            positive=f"positive {i % 50}",
            negative=f"negative {i % 30}",
            verdict=KINDS[i % 5],
            sources=["vocabulary"],
            kind="type",
        )
        for i in range(start, start + n)
    ]


def ms(xs: list[float]) -> str:
    xs = sorted(xs)
    return f"p50 {statistics.median(xs) * 1000:.2f} ms, p95 {xs[int(len(xs) * 0.95)] * 1000:.2f} ms"


async def run(store: VerdictStore, n: int) -> None:
    singles = verdicts(n)
    t0 = time.perf_counter()
    for v in singles:
        await store.write([v])
    one = time.perf_counter() - t0
    batch = verdicts(n * 5, start=n)
    t0 = time.perf_counter()
    for i in range(0, len(batch), 100):
        await store.write(batch[i : i + 100])
    many = time.perf_counter() - t0
    phrases = [f"negative {i}" for i in range(30)]
    present, counts = [], []
    for i in range(500):
        t0 = time.perf_counter()
        await store.present_on_item(f"img-{i % 200}")
        present.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        await store.counts(f"positive {i % 50}", phrases)
        counts.append(time.perf_counter() - t0)
    print(
        f"{store.backend}: {n / one:,.0f} verdicts/s one per write ({one / n * 1000:.2f} ms each);"
        f" {len(batch) / many:,.0f} verdicts/s in batches of 100;"
        f" present_on_item {ms(present)}; counts(30 phrases) {ms(counts)}"
    )
    await store.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--verdicts", type=int, default=2000)
    parser.add_argument("--no-redis", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(SqliteVerdictStore(Path(tmp) / "v.sqlite"), args.verdicts))
        if not args.no_redis:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.procs
            from tests.procs import redis_server

            with redis_server(Path(tmp) / "redis", appendonly=True) as srv:
                asyncio.run(run(RedisVerdictStore(srv.url), args.verdicts))


if __name__ == "__main__":
    main()
