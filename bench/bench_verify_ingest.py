"""Benchmark: ingest of a detector's predictions on a verification round (1M detections).

A synthetic round: ``--images`` images with 3 positive instances each, ``--queries-per-image``
proposed negatives per image, ``--detections`` COCO results spread over the queries (scores
uniform in [0, 1]; a third of them on a positive's box, the rest anywhere; ``--mask-share`` of
them with an RLE mask, as SAM 3 gives). Prints wall time per phase and detections/s, on the
SQLite store and (``--redis``) on a private redis-server started on a free port.

    python bench/bench_verify_ingest.py [--detections 1000000] [--redis]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from hardneg.miners.verify import Instance, Query, VerifyOptions, VerifyStore
from hardneg.miners.verify.ingest import decide_round, parse_predictions
from hardneg.miners.verify.kv import RedisKV, SqliteKV

SIZE = 512  # image side, pixels


def synthetic(
    args: argparse.Namespace, seed: int = 0
) -> tuple[list[Query], dict[str, list[Instance]], list[Any]]:
    rng = np.random.default_rng(seed)
    truth = {
        str(i): [
            Instance(
                "thing",
                tuple(np.r_[rng.uniform(0, 300, 2), rng.uniform(20, 200, 2)].round(1).tolist()),
            )
            for _ in range(3)
        ]
        for i in range(args.images)
    }
    queries = [
        Query(
            id=i * args.queries_per_image + j + 1,
            image_id=str(i),
            phrase=f"phrase {j}",
            positive="thing",
            sources=["vocabulary", "llm"][j % 2 :][:1],
            kind="type",
        )
        for i in range(args.images)
        for j in range(args.queries_per_image)
    ]
    return queries, truth, _detections(rng, args, queries, truth)


def _detections(
    rng: np.random.Generator,
    args: argparse.Namespace,
    queries: list[Query],
    truth: dict[str, list[Instance]],
) -> list[Any]:
    from pycocotools import mask as mask_utils

    n = args.detections
    qi = rng.integers(0, len(queries), n)
    score = rng.uniform(0, 1, n).round(4)
    boxes = np.c_[rng.uniform(0, 400, (n, 2)), rng.uniform(10, 150, (n, 2))].round(1)
    on_pos = rng.uniform(0, 1, n) < 1 / 3
    rle = mask_utils.encode(
        np.asfortranarray(np.pad(np.ones((100, 100), np.uint8), ((50, SIZE - 150),) * 2))
    )
    mask = {"size": [SIZE, SIZE], "counts": rle["counts"].decode()}
    with_mask = rng.uniform(0, 1, n) < args.mask_share
    out = []
    for k in range(n):
        q = queries[int(qi[k])]
        box = list(truth[q.image_id][k % 3].bbox) if on_pos[k] else boxes[k].tolist()
        det: dict[str, Any] = {
            "image_id": q.id,
            "category_id": 1,
            "score": float(score[k]),
            "bbox": box,
        }
        if with_mask[k]:
            det["segmentation"] = mask
        out.append(det)
    return out


def timed(label: str, fn: Any, n: int) -> Any:
    start = time.perf_counter()
    out = fn()
    s = time.perf_counter() - start
    print(f"  {label:<28} {s:7.2f} s  {n / s:>12,.0f} detections/s")
    return out


async def run(store: VerifyStore, args: argparse.Namespace) -> None:
    queries, truth, preds = synthetic(args)
    await store.export("bench", queries, truth)
    known = {q.id: q for q in queries}
    opts = VerifyOptions(0.5, 0.5)
    n = len(preds)
    parsed = timed("validate + parse", lambda: parse_predictions(preds, known), n)
    timed("decide (fooled/ignored/...)", lambda: decide_round(parsed, known, truth, opts), n)
    start = time.perf_counter()
    report = await store.ingest("bench", preds, opts)
    s = time.perf_counter() - start
    print(f"  {'whole ingest (commit incl.)':<28} {s:7.2f} s  {n / s:>12,.0f} detections/s")
    t = report.stats.totals
    print(
        f"  queries {t.queries:,}: fooled {t.fooled:,}, ignored {t.ignored:,}, elsewhere {t.elsewhere:,}"
    )
    start = time.perf_counter()
    again = await store.ingest("bench", preds, opts)
    print(
        f"  re-ingest (idempotent)       {time.perf_counter() - start:7.2f} s  already={again.already_ingested}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--detections", type=int, default=1_000_000)
    p.add_argument("--images", type=int, default=10_000)
    p.add_argument("--queries-per-image", type=int, default=20)
    p.add_argument("--mask-share", type=float, default=0.1)
    p.add_argument("--redis", action="store_true", help="also a private redis-server")
    args = p.parse_args()
    print(
        f"{args.detections:,} detections on {args.images * args.queries_per_image:,} queries "
        f"({args.images:,} images, {args.mask_share:.0%} with masks)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        print("SQLite store:")
        asyncio.run(_with(VerifyStore(SqliteKV(Path(tmp) / "v.sqlite")), args))
        if args.redis:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from tests.procs import redis_server

            with redis_server(Path(tmp) / "redis", appendonly=True) as srv:
                print("Redis store (appendonly, fsync always):")
                asyncio.run(_with(VerifyStore(RedisKV(srv.url)), args))


async def _with(store: VerifyStore, args: argparse.Namespace) -> None:
    try:
        await run(store, args)
    finally:
        await store.aclose()


if __name__ == "__main__":
    main()
