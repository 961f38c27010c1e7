"""Ontology miner latency on the local snapshot: one cold concept, one cached concept.

    python bench/bench_ontology.py                       # in-process pyoxigraph snapshot
    python bench/bench_ontology.py --sparql-url http://127.0.0.1:7878/query   # Oxigraph server
    python bench/bench_ontology.py --redis-url redis://127.0.0.1:6390/0       # + shared cache

cold:   every query of ``mine`` runs on the store (the in-process result cache is emptied
        before each run); the very first call, which also reads the attribute vocabularies,
        is reported apart.
cached: the same concept again: every query result comes from the in-process cache.
shared: (with --redis-url) in-process cache emptied, results read back from Redis.
Prints p50/p95 in milliseconds; this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from hardneg.miners.base import MineQuery, MinerContext
from hardneg.miners.ontology import OntologyMiner
from hardneg.service.settings import Settings

Rows = list[tuple[str, list[float]]]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def timed(
    n: int, call: Callable[[], Awaitable[object]], before: Callable[[], None]
) -> list[float]:
    out = []
    for _ in range(n):
        before()
        start = time.perf_counter()
        await call()
        out.append((time.perf_counter() - start) * 1000)
    return out


def report(miner: OntologyMiner, args: argparse.Namespace, head: str, rows: Rows) -> None:
    print(f"endpoint {miner.endpoint_id}  snapshot {miner.snapshot_id}")
    print(f"concept {args.concept!r}  k={args.k}  runs={args.n}  {head}")
    print(f"{'':16} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
    for name, values in rows:
        p50, p95, mean = pct(values, 0.5), pct(values, 0.95), statistics.mean(values)
        print(f"{name:16} {p50:8.2f} {p95:8.2f} {mean:8.2f}")


async def measure(miner: OntologyMiner, args: argparse.Namespace, cache: Any) -> Rows:
    query = MineQuery(positive=args.concept, k=args.k)
    ctx = MinerContext(settings=None)
    lru = miner.endpoint.lru
    miner.endpoint.cache = None  # cold: neither the in-process nor the shared cache answers
    rows = [("cold", await timed(args.n, lambda: miner.mine(query, ctx), lru.clear))]
    miner.endpoint.cache = cache
    rows.append(("cached", await timed(args.n, lambda: miner.mine(query, ctx), _nothing)))
    related = await timed(args.n, lambda: miner.related([args.concept], ctx), _nothing)
    rows.append(("related cached", related))
    if cache is not None:
        shared = await timed(args.n, lambda: miner.mine(query, ctx), lru.clear)
        rows.append(("shared (Redis)", shared))
    return rows


def _nothing() -> None:
    return None


async def run(args: argparse.Namespace) -> None:
    cache = None
    if args.redis_url:
        from hardneg.service.cache import RedisCache

        cache = RedisCache(args.redis_url)
    settings = Settings(_env_file=None, sparql_url=args.sparql_url)
    start = time.perf_counter()
    miner = OntologyMiner(MinerContext(settings=settings, cache=cache))
    load_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    out = await miner.mine(MineQuery(positive=args.concept, k=args.k), MinerContext(settings=None))
    first_ms = (time.perf_counter() - start) * 1000
    rows = await measure(miner, args, cache)
    head = (f"candidates={len(out.candidates)}; miner start {load_ms:.0f} ms; "
            f"first mine (reads attribute vocabularies too) {first_ms:.1f} ms")  # fmt: skip
    report(miner, args, head, rows)
    await miner.aclose()
    if cache is not None:
        await cache.aclose()


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--concept", default="yellow school bus")
    p.add_argument("--k", type=int, default=120, help="candidates asked (the pipeline asks 120)")
    p.add_argument("--n", type=int, default=50, help="runs per row")
    p.add_argument("--sparql-url", default=None)
    p.add_argument("--redis-url", default=None)
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
