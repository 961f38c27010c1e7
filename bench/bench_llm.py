"""Benchmark the LLM miner's client side against the fake OpenAI-compatible server.

The fake replies at once, so what is measured is hardneg's own cost per item (prompt building,
JSON, HTTP, validation, candidates) and how it scales with concurrency; a real vLLM adds its
generation time on top. The fake runs in its own process so it does not share our GIL.
"client CPU ms/item" is this process's CPU time per mined item (miner + httpx + event loop);
the last column posts the same body through a single httpx pool, the design the miner's sharded
pools replace (see SHARD_CONNECTIONS in miners/llm/client.py).

    python bench/bench_llm.py [--items 300] [--levels 1,8,64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from hardneg.miners.base import MineQuery, MinerContext
from hardneg.miners.llm import LLMMiner
from hardneg.miners.llm.prompt import build_messages, parse_reply
from hardneg.service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.openai_server import propose  # noqa: E402
from tests.procs import free_port, wait_port  # noqa: E402

PRESENT = ["road", "tree", "person", "traffic light", "sidewalk"]


def query(i: int) -> MineQuery:
    return MineQuery(positive=f"yellow school bus {i}", present=PRESENT, k=30)


def cpu_per_item(n: int = 2000) -> dict[str, float]:
    """Microseconds of pure client CPU per item: prompt + request JSON, reply parse + validate."""
    reply = json.dumps({"negatives": propose({"positive": "yellow school bus", "count": 15}) * 2})
    t0 = time.perf_counter()
    for i in range(n):
        json.dumps({"messages": build_messages(f"bus {i}", PRESENT, [], 30)})
    t1 = time.perf_counter()
    for _ in range(n):
        parse_reply(reply)
    t2 = time.perf_counter()
    return {"prompt_us": (t1 - t0) / n * 1e6, "parse_validate_us": (t2 - t1) / n * 1e6}


async def run_level(url: str, concurrency: int, items: int) -> dict[str, float]:
    """Mine ``items`` distinct positives with at most ``concurrency`` requests in flight."""
    settings = Settings(llm_url=url, llm_model="bench", llm_max_concurrency=concurrency)
    miner = LLMMiner(MinerContext(settings=settings))
    ctx = MinerContext(settings=settings)
    lat: list[float] = []
    sem = asyncio.Semaphore(concurrency)  # at most c items in flight: latency excludes queueing

    async def one(i: int) -> None:
        async with sem:
            t = time.perf_counter()
            out = await miner.mine(query(i), ctx)
            lat.append(time.perf_counter() - t)
        assert out.candidates, out.note

    await asyncio.gather(*(one(-i - 1) for i in range(max(concurrency, 16))))  # warm up
    lat.clear()
    t0, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(i) for i in range(items)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    await miner.aclose()
    lat.sort()
    return {
        "items_s": items / wall,
        "p50_ms": statistics.median(lat) * 1e3,
        "p95_ms": lat[int(0.95 * (len(lat) - 1))] * 1e3,
        "cpu_ms": cpu / items * 1e3,
    }


async def one_pool(url: str, concurrency: int, items: int) -> float:
    """Baseline: bare POSTs through ONE httpx pool of ``concurrency`` connections (req/s)."""
    body = {"model": "bench", "messages": build_messages("yellow school bus", PRESENT, [], 30)}
    limits = httpx.Limits(max_connections=concurrency)
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:

        async def one() -> None:
            async with sem:
                (await http.post("/chat/completions", json=body)).raise_for_status()

        await asyncio.gather(*(one() for _ in range(max(concurrency, 16))))
        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(items)))
        return items / (time.perf_counter() - t0)


async def main_async(items: int, levels: list[int]) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.openai_server", "--port", str(port)], cwd=ROOT
    )
    try:
        wait_port(port, proc=proc)
        url = f"http://127.0.0.1:{port}/v1"
        cpu = cpu_per_item()
        print(
            f"client CPU per item: prompt+request JSON {cpu['prompt_us']:.0f} us,"
            f" reply parse+validate (30 entries) {cpu['parse_validate_us']:.0f} us"
        )
        print(
            f"{'concurrency':>11} {'items/s':>8} {'p50 ms':>7} {'p95 ms':>7}"
            f" {'client CPU ms/item':>18} {'one-pool httpx req/s':>21}"
        )
        for c in levels:
            r = await run_level(url, c, items)
            base = await one_pool(url, c, items)
            print(
                f"{c:>11} {r['items_s']:>8.0f} {r['p50_ms']:>7.1f} {r['p95_ms']:>7.1f}"
                f" {r['cpu_ms']:>18.2f} {base:>21.0f}"
            )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=300)
    ap.add_argument("--levels", default="1,8,64")
    args = ap.parse_args()
    asyncio.run(main_async(args.items, [int(x) for x in args.levels.split(",")]))


if __name__ == "__main__":
    main()
