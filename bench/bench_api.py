"""REST benchmarks on the embedded default (prints figures; asserts nothing).

1. cached ``POST /v1/negatives`` (1 item) requests/s vs the trivial JSON endpoint ``/healthz`` on
   the same server in the same run (goal: >= 40%);
2. one request of 32 items vs 32 one-item requests, all cached (goal: >= 8x faster per item);
3. cold mining of one concept in-process: p50/p95 over distinct LVIS concepts.

    python bench/bench_api.py [--redis] [--seconds 5] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.procs import RedisServer, free_port, wait_port

ITEM = {"id": "img-1", "positives": ["yellow school bus"], "present": ["road", "person"]}


async def _load(
    url: str, method: str, path: str, body: object, seconds: float, concurrency: int
) -> float:
    """Requests/s with ``concurrency`` keep-alive connections hammering one route."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        done = 0
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                r = await client.request(method, path, json=body)
                r.raise_for_status()
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - start)


def _start_server(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "hardneg.service.app:app_from_env",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    proc = subprocess.Popen(cmd, env=env)
    wait_port(port, timeout_s=300, proc=proc)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if httpx.get(url + "/readyz", timeout=5).status_code == 200:
            break
        time.sleep(0.5)
    return proc, url


async def http_benchmarks(url: str, seconds: float, concurrency: int) -> None:
    one = {"items": [ITEM], "k": 30}
    items32 = [{**ITEM, "id": f"img-{i}", "positives": [p]} for i, p in enumerate(CONCEPTS[:32])]
    async with httpx.AsyncClient(base_url=url, timeout=120) as c:  # warm every cache entry
        (await c.post("/v1/negatives", json=one)).raise_for_status()
        (await c.post("/v1/negatives", json={"items": items32, "k": 30})).raise_for_status()
    trivial = await _load(url, "GET", "/healthz", None, seconds, concurrency)
    cached = await _load(url, "POST", "/v1/negatives", one, seconds, concurrency)
    print(f"trivial GET /healthz           : {trivial:8.0f} req/s")
    print(
        f"cached POST /v1/negatives 1 item: {cached:8.0f} req/s  "
        f"({100 * cached / trivial:.0f}% of trivial; goal >= 40%)"
    )
    batch = await _load(
        url, "POST", "/v1/negatives", {"items": items32, "k": 30}, seconds, concurrency
    )
    per_item_batch, per_item_single = batch * 32, cached
    print(
        f"cached POST 32 items            : {batch:8.0f} req/s = {per_item_batch:.0f} items/s "
        f"({per_item_batch / per_item_single:.1f}x per item vs 1-item requests; goal >= 8x)"
    )


async def cold_benchmark(n: int) -> None:
    from hardneg.miners.types import NegativesRequest
    from hardneg.service.pipeline import Pipeline
    from hardneg.service.settings import Settings

    pipe = Pipeline.create(Settings(_env_file=None))
    await pipe.warm_up()
    times = []
    for concept in CONCEPTS[100 : 100 + n]:
        req = NegativesRequest.model_validate({"items": [{"positives": [concept]}], "k": 30})
        start = time.perf_counter()
        await pipe.mine(req)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    print(
        f"cold mining, 1 concept, in-process ({pipe.embedder.id}, miners "
        f"{sorted(pipe.registry.miners)}): p50 {statistics.median(times):.1f} ms, "
        f"p95 {p95:.1f} ms over {n} distinct LVIS concepts"
    )
    await pipe.aclose()


def _concepts() -> list[str]:
    from hardneg.miners.knowledge import Knowledge

    return [e.phrase for e in Knowledge.load_default().vocabulary()]


CONCEPTS: list[str] = []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--redis", action="store_true", help="cache in a private redis-server")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--cold", type=int, default=50, help="concepts for the cold benchmark")
    args = ap.parse_args()
    CONCEPTS.extend(_concepts())
    workdir = Path(tempfile.mkdtemp(prefix="hardneg-bench-"))
    env = {
        **os.environ,
        "HARDNEG_INDEX_DIR": str(workdir / "index"),
        "HARDNEG_LOG_LEVEL": "WARNING",
    }
    redis = None
    if args.redis:
        redis = RedisServer(workdir / "redis")
        redis.start()
        env["HARDNEG_REDIS_URL"] = redis.url
    os.environ.update({k: v for k, v in env.items() if k.startswith("HARDNEG_")})
    print(
        f"cache: {'redis' if redis else 'in-process LRU'}; server: uvicorn, 1 worker; "
        f"client: httpx, {args.concurrency} connections, {args.seconds:g} s per figure"
    )
    proc, url = _start_server(env)
    try:
        asyncio.run(http_benchmarks(url, args.seconds, args.concurrency))
    finally:
        proc.terminate()
        proc.wait()
    asyncio.run(cold_benchmark(args.cold))
    if redis:
        redis.stop()


if __name__ == "__main__":
    main()
