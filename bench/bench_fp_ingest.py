"""Benchmark: ingest of a synthetic 5,000-image set with 100 predictions per image.

Prints wall time per phase and predictions/s, for the SQLite store and (with ``--redis``) a
private redis-server with append-only persistence started on a free port.

    python bench/bench_fp_ingest.py [--images 5000] [--per-image 100] [--redis]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from hardneg.miners.false_positive import MatchOptions, ingest_round, match
from hardneg.miners.false_positive.ingest import load_json, parse_ground_truth, parse_predictions
from hardneg.miners.false_positive.rounds import content_hash
from hardneg.miners.false_positive.store import FPStore, SqliteStore

N_CATEGORIES = 80


def synthetic(n_images: int, per_image: int, seed: int = 0) -> tuple[dict[str, Any], list[Any]]:
    """COCO-like GT (~7 instances per image) and predictions: 40% on an instance (a quarter of
    those with another category), the rest anywhere, scores uniform in [0, 1]."""
    rng = np.random.default_rng(seed)
    n_ann = n_images * 7
    a_img = rng.integers(0, n_images, n_ann)
    a_box = np.c_[rng.uniform(0, 500, (n_ann, 2)), rng.uniform(10, 200, (n_ann, 2))].round(1)
    a_cat = rng.integers(1, N_CATEGORIES + 1, n_ann)
    gt = {
        "images": [{"id": i, "width": 640, "height": 480} for i in range(n_images)],
        "categories": [{"id": c, "name": f"category {c}"} for c in range(1, N_CATEGORIES + 1)],
        "annotations": [
            {
                "id": k,
                "image_id": int(a_img[k]),
                "category_id": int(a_cat[k]),
                "bbox": a_box[k].tolist(),
            }
            for k in range(n_ann)
        ],
    }
    return gt, _predictions(rng, n_images, per_image, a_img, a_box, a_cat)


def _predictions(
    rng: np.random.Generator,
    n_images: int,
    per_image: int,
    a_img: np.ndarray,
    a_box: np.ndarray,
    a_cat: np.ndarray,
) -> list[Any]:
    n = n_images * per_image
    p_img = np.repeat(np.arange(n_images), per_image)
    p_box = np.c_[rng.uniform(0, 500, (n, 2)), rng.uniform(10, 200, (n, 2))]
    p_cat = rng.integers(1, N_CATEGORIES + 1, n)
    # predictions "on" an instance of their own image: jittered box, usually its category
    by_img = np.argsort(a_img, kind="stable")
    start = np.searchsorted(a_img[by_img], p_img)
    count = np.searchsorted(a_img[by_img], p_img, side="right") - start
    on = (rng.random(n) < 0.4) & (count > 0)
    pick = by_img[start[on] + (rng.random(on.sum()) * count[on]).astype(int)]
    p_box[on] = a_box[pick] + rng.normal(0, 4, (on.sum(), 4))
    p_box[:, 2:] = np.abs(p_box[:, 2:])
    p_cat[on] = np.where(rng.random(on.sum()) < 0.75, a_cat[pick], p_cat[on])
    score = rng.random(n).round(4)
    return [
        {
            "image_id": int(p_img[i]),
            "category_id": int(p_cat[i]),
            "bbox": p_box[i].round(1).tolist(),
            "score": float(score[i]),
        }
        for i in range(n)
    ]


def phases(gt_path: Path, preds_path: Path, opts: MatchOptions) -> None:
    """Time each CPU phase once (what ingest_round does in its worker thread)."""
    t = time.perf_counter()
    gt_raw, preds_raw = load_json(gt_path, "gt"), load_json(preds_path, "preds")
    t1 = time.perf_counter()
    gt = parse_ground_truth(gt_raw)
    preds = parse_predictions(preds_raw, gt)
    t2 = time.perf_counter()
    result = match(gt, preds, opts)
    t3 = time.perf_counter()
    content_hash(gt, preds, opts)
    t4 = time.perf_counter()
    c = result.counts
    print(
        f"  json load {t1 - t:.2f}s, validate {t2 - t1:.2f}s, match {t3 - t2:.2f}s, "
        f"hash {t4 - t3:.2f}s"
    )
    print(
        f"  {c.predictions} predictions: {c.true_positives} TP, {c.false_positives} FP "
        f"({c.image_level} image-level, {c.confusions} confusions), "
        f"{len(result.pairs)} pairs, {len(result.images)} image-level records"
    )


async def timed_ingest(store: FPStore, label: str, gt: Path, preds: Path, n: int) -> None:
    opts = MatchOptions()
    t = time.perf_counter()
    report = await ingest_round(store, "bench", gt, preds, opts)
    wall = time.perf_counter() - t
    t = time.perf_counter()
    again = await ingest_round(store, "bench", gt, preds, opts)
    replay = time.perf_counter() - t
    assert again.already_ingested and not report.already_ingested
    print(
        f"{label}: ingest {wall:.2f}s wall = {n / wall:,.0f} predictions/s; "
        f"idempotent re-ingest {replay:.2f}s"
    )
    await store.aclose()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--per-image", type=int, default=100)
    ap.add_argument("--redis", action="store_true", help="also ingest into a private Redis")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        gt, preds = synthetic(args.images, args.per_image)
        (d / "gt.json").write_text(json.dumps(gt))
        (d / "preds.json").write_text(json.dumps(preds))
        n = len(preds)
        mb = (d / "preds.json").stat().st_size / 1e6
        print(f"{args.images} images, {n} predictions ({mb:.0f} MB of JSON)")
        phases(d / "gt.json", d / "preds.json", MatchOptions())
        await timed_ingest(
            SqliteStore(d / "fp.sqlite"), "sqlite", d / "gt.json", d / "preds.json", n
        )
        if args.redis:
            from hardneg.miners.false_positive.store_redis import RedisStore

            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.procs
            from tests.procs import redis_server

            with redis_server(d / "redis", appendonly=True) as srv:
                await timed_ingest(
                    RedisStore(srv.url), "redis (AOF)", d / "gt.json", d / "preds.json", n
                )


if __name__ == "__main__":
    asyncio.run(main())
