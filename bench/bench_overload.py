"""Overload: does admission keep admitted requests fast when twice the capacity arrives?

Starts ``hardneg serve`` (its own process, its own redis-server) and drives it from a load
generator in a second process, loopback only, bounded in count and time:

1. unloaded: one client, cold concepts one after another -> p50/p95;
2. capacity: closed loop at the interactive slot count -> cold requests/s;
3. 2x overload: open loop at twice that rate -> admitted p50/p95, 429 share (all with
   Retry-After), the server's peak RSS;
4. recovery: the next requests right after the overload -> p95.

Also: cold and cached requests/s with 1 and 2 uvicorn workers sharing the Redis
(``--workers``). Prints figures (and returns them to bench/run.py); asserts nothing.

    python bench/bench_overload.py [--seconds 20] [--workers]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.procs import RedisServer, Service

MODIFIERS = ["", "red ", "small ", "wooden ", "striped ", "old ", "blue ", "plastic ", "toy "]


def concepts(offset: int) -> list[str]:
    """Distinct concepts (vocabulary phrases with modifiers), so every request is a cache miss."""
    from hardneg.miners.knowledge import Knowledge

    phrases = [e.phrase for e in Knowledge.load_default().vocabulary()]
    out = [m + p for m, p in itertools.product(MODIFIERS, phrases)]
    offset %= len(out)
    return out[offset:] + out[:offset]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _one(c: httpx.AsyncClient, concept: str) -> tuple[int, float, str | None]:
    body = {"items": [{"positives": [concept]}], "k": 30}
    start = time.perf_counter()
    resp = await c.post("/v1/negatives", json=body)
    return resp.status_code, time.perf_counter() - start, resp.headers.get("retry-after")


async def _closed(url: str, names: list[str], clients: int, seconds: float, n: int) -> list[Any]:
    """``clients`` loops, each sending the next concept when its answer came back."""
    out: list[Any] = []
    it = iter(names)
    end = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=url, timeout=60) as c:

        async def loop() -> None:
            while time.monotonic() < end and len(out) < n:
                out.append(await _one(c, next(it)))

        await asyncio.gather(*(loop() for _ in range(clients)))
    return out


async def _open(url: str, names: list[str], rate: float, seconds: float) -> list[Any]:
    """Arrivals at ``rate``/s whatever the answers do (an open loop), for ``seconds``."""
    limits = httpx.Limits(max_connections=512, max_keepalive_connections=512)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as c:
        tasks, start = [], time.monotonic()
        for i, name in enumerate(names[: int(rate * seconds)]):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            tasks.append(asyncio.ensure_future(_one(c, name)))
        return list(await asyncio.gather(*tasks))


def _generator(kind: str, url: str, args: dict[str, Any], conn: Any) -> None:
    """Runs in the load-generator process; sends its results back through ``conn``."""
    names = concepts(args.pop("offset"))
    if kind == "closed":
        res = asyncio.run(_closed(url, names, **args))
    else:
        res = asyncio.run(_open(url, names, **args))
    conn.send(res)
    conn.close()


class RssWatch:
    """Peak resident memory of the server process tree, sampled every 0.2 s."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.proc = psutil.Process(pid)
        self.peak = self.now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def now(self) -> int:
        procs = [self.proc, *self.proc.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs if p.is_running())

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, self.now())

    def __enter__(self) -> RssWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def run_load(kind: str, url: str, **args: Any) -> list[tuple[int, float, str | None]]:
    """Run a load in a second process (spawned: its own interpreter and CPU time)."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_generator, args=(kind, url, args, child))
    proc.start()
    res: list[tuple[int, float, str | None]] = parent.recv()
    proc.join(timeout=120)
    return res


def summary(res: list[tuple[int, float, str | None]], seconds: float) -> dict[str, Any]:
    ok = [t * 1000 for s, t, _ in res if s == 200]
    refused = [r for s, _, r in res if s == 429]
    return {
        "sent": len(res),
        "ok": len(ok),
        "refused_429": len(refused),
        "refused_share": round(len(refused) / max(1, len(res)), 3),
        "refused_with_retry_after": sum(r is not None for r in refused),
        "other": len(res) - len(ok) - len(refused),
        "ok_per_s": round(len(ok) / seconds, 2),
        "p50_ms": round(pct(ok, 0.5), 1),
        "p95_ms": round(pct(ok, 0.95), 1),
    }


def overload(url: str, pid: int, seconds: float, slots: int) -> dict[str, Any]:
    """The four phases; returns their figures."""
    run_load("closed", url, offset=0, clients=1, seconds=60, n=5)  # warm the code paths
    unloaded = summary(run_load("closed", url, offset=50, clients=1, seconds=60, n=40), 60)
    cap_res = run_load("closed", url, offset=200, clients=slots, seconds=seconds, n=10_000)
    capacity = summary(cap_res, seconds)
    rate = 2 * capacity["ok_per_s"]
    with RssWatch(pid) as rss:
        before = rss.now()
        over = summary(run_load("open", url, offset=2000, rate=rate, seconds=seconds), seconds)
    after = summary(run_load("closed", url, offset=5000, clients=1, seconds=30, n=20), 30)
    return {
        "unloaded": unloaded,
        "capacity": capacity,
        "overload_rate_per_s": round(rate, 2),
        "overload": over,
        "recovery": after,
        "rss_mb": {"before": before // 2**20, "peak": rss.peak // 2**20},
        "admitted_p95_vs_unloaded": round(over["p95_ms"] / unloaded["p95_ms"], 2),
    }


async def _cached_rate(url: str, seconds: float, clients: int) -> float:
    body = {"items": [{"positives": ["yellow school bus"]}], "k": 30}
    async with httpx.AsyncClient(base_url=url, timeout=60) as c:
        (await c.post("/v1/negatives", json=body)).raise_for_status()
        done, end = 0, time.monotonic() + seconds

        async def loop() -> None:
            nonlocal done
            while time.monotonic() < end:
                (await c.post("/v1/negatives", json=body)).raise_for_status()
                done += 1

        await asyncio.gather(*(loop() for _ in range(clients)))
    return done / seconds


def workers(env: dict[str, str], seconds: float, log: Path) -> dict[str, Any]:
    """Cold and cached requests/s with 1 and 2 workers sharing one Redis."""
    out: dict[str, Any] = {}
    for n in (1, 2):
        with_workers = {**env, "HARDNEG_WORKERS": str(n)}
        srv = Service(with_workers, workers=n, log=log)
        srv.start()
        try:
            run_load("closed", srv.url, offset=9000 + n * 10, clients=2 * n, seconds=60, n=2 * n)
            cold = summary(
                run_load("closed", srv.url, offset=9500 + n * 1000, clients=4 * n,
                         seconds=seconds, n=10_000),
                seconds,
            )  # fmt: skip
            cached = asyncio.run(_cached_rate(srv.url, seconds / 2, 16))
        finally:
            srv.stop()
        out[f"{n}_worker"] = {"cold_per_s": cold["ok_per_s"], "cached_per_s": round(cached, 1)}
    return out


def calibrate(url: str, seconds: float, levels: tuple[int, ...] = (1, 2, 3, 4, 6)) -> list[Any]:
    """Cold requests/s and p95 per number of concurrent clients: where throughput stops
    growing and only latency does is the slot count the defaults derive from."""
    rows = []
    for i, clients in enumerate(levels):
        res = run_load(
            "closed", url, offset=6000 + 700 * i, clients=clients, seconds=seconds, n=10_000
        )
        s = summary(res, seconds)
        rows.append(
            {
                "clients": clients,
                "per_s": s["ok_per_s"],
                "p50_ms": s["p50_ms"],
                "p95_ms": s["p95_ms"],
            }
        )
        print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--workers", action="store_true", help="also 1 vs 2 uvicorn workers")
    ap.add_argument("--calibrate", action="store_true", help="throughput per concurrency only")
    args = ap.parse_args(argv)
    from hardneg.service.admission import default_slots, usable_cpus

    work = Path(tempfile.mkdtemp(prefix="hardneg-overload-"))
    redis = RedisServer(work / "redis")
    redis.start()
    env = {
        "HARDNEG_REDIS_URL": redis.url,
        "HARDNEG_INDEX_DIR": str(work / "index"),
        "HARDNEG_FP_STORE_PATH": str(work / "fp.sqlite"),
    }
    slots = default_slots()[0]
    figures: dict[str, Any] = {"usable_cpus": usable_cpus(), "interactive_slots": slots}
    if args.calibrate:  # admission wide open: measure the machine, not the limits
        env = {**env, "HARDNEG_INTERACTIVE_SLOTS": "64", "HARDNEG_ADMIT_PER_SLOT": "4"}
    srv = Service(env, log=work / "service.log")
    srv.start()
    try:
        assert srv.proc is not None
        if args.calibrate:
            run_load("closed", srv.url, offset=0, clients=1, seconds=60, n=5)
            figures["calibration"] = calibrate(srv.url, args.seconds)
            srv.stop()
            redis.stop()
            return figures
        figures.update(overload(srv.url, srv.proc.pid, args.seconds, slots))
    finally:
        srv.stop()
    if args.workers:
        figures["workers"] = workers(env, args.seconds, work / "service.log")
    redis.stop()
    print(json.dumps(figures, indent=2))
    u, o = figures["unloaded"], figures["overload"]
    print(
        f"unloaded p95 {u['p95_ms']} ms; capacity {figures['capacity']['ok_per_s']}/s; at 2x "
        f"({figures['overload_rate_per_s']}/s) admitted p95 {o['p95_ms']} ms "
        f"({figures['admitted_p95_vs_unloaded']}x unloaded; goal <= 2x), "
        f"{100 * o['refused_share']:.0f}% got 429, RSS peak {figures['rss_mb']['peak']} MB; "
        f"recovery p95 {figures['recovery']['p95_ms']} ms (median of all: "
        f"{statistics.median([u['p50_ms'], figures['recovery']['p50_ms']]):.0f} ms)"
    )
    return figures


if __name__ == "__main__":
    main()
