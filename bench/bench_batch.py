"""``hardneg batch`` items/s against the number of images and of distinct concepts.

    python bench/bench_batch.py [--images 1000,10000,100000] [--categories coco,lvis] [--k 30]

For each size it writes a synthetic COCO file (each image gets 1-5 categories drawn from COCO's 80
or LVIS's 1,203, seeded) and runs the batch command in-process on the embedded default, cold
(empty cache: every distinct concept is mined), with the model loaded and the vocabulary index
built before the clock starts. Prints one row per run; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("HARDNEG_BENCH_DATA", "/work/shared/data"))
CATEGORY_FILES = {"coco": "coco_categories.json", "lvis": "lvis_v1_categories.json"}


def categories(name: str) -> list[dict[str, Any]]:
    """COCO's or LVIS's category list (id, name), from the shared data folder."""
    path = DATA / CATEGORY_FILES[name]
    data = json.loads(path.read_text(encoding="utf-8"))
    cats = data["categories"] if isinstance(data, dict) else data
    return [{"id": c["id"], "name": c["name"]} for c in cats]


def synthetic_coco(n_images: int, cats: list[dict[str, Any]], seed: int = 0) -> dict[str, Any]:
    """A COCO annotation file: image i has 1-5 distinct categories (one box each)."""
    rng = random.Random(seed)
    images, anns = [], []
    for i in range(1, n_images + 1):
        images.append({"id": i, "file_name": f"{i:012d}.jpg", "width": 640, "height": 480})
        for cat in rng.sample(cats, rng.randint(1, 5)):
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": cat["id"],
                         "bbox": [0, 0, 10, 10], "area": 100, "iscrowd": 0})  # fmt: skip
    return {"images": images, "annotations": anns, "categories": cats}


async def _run(src: Path, out: Path, k: int) -> Any:
    from hardneg.clients.cli.batch import run_batch
    from hardneg.miners.types import MineOptions

    return await run_batch(src, out, MineOptions(k=k))


def one(n_images: int, cat_name: str, k: int, tmp: Path) -> dict[str, Any]:
    cats = categories(cat_name)
    src, out = tmp / f"{cat_name}-{n_images}.json", tmp / f"{cat_name}-{n_images}.out.jsonl"
    coco = synthetic_coco(n_images, cats)
    src.write_text(json.dumps(coco), encoding="utf-8")
    distinct = len({a["category_id"] for a in coco["annotations"]})
    start = time.perf_counter()
    report = asyncio.run(_run(src, out, k))
    took = time.perf_counter() - start
    return {"images": n_images, "categories": cat_name, "distinct concepts": distinct,
            "written": report.written, "s": round(took, 1),
            "items/s": round(report.written / took, 1)}  # fmt: skip


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", default="1000,10000,100000")
    ap.add_argument("--categories", default="coco,lvis")
    ap.add_argument("--k", type=int, default=30)
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        os.environ.setdefault("HARDNEG_INDEX_DIR", str(ROOT / ".bench-index"))
        warm = tmp / "warm.jsonl"  # loads the model and builds the index outside the timing
        warm.write_text(json.dumps({"id": "w", "positives": ["zebra"]}) + "\n")
        asyncio.run(_run(warm, tmp / "warm.out", args.k))
        for cat_name in args.categories.split(","):
            for n in (int(x) for x in args.images.split(",")):
                row = one(n, cat_name, args.k, tmp)
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
