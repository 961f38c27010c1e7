"""Calibrate the image-text rule's margins (``HARDNEG_IMAGE_*_MARGIN``) on labelled images.

For every image of a COCO/LVIS file and every category annotated on it (a positive), the gap
``cos(image, positive) - cos(image, other)`` is measured for the other categories that are also
on the image (present: what the rule must not return) and for those that are not (absent). It
prints percentiles of both and suggests margins:

- present margin: the gap below which at least half of the concepts are present (demote there);
- drop margin: minus the gap at or below which 90% are present (drop there);
- hard margin: the 25th percentile of absent gaps (the quarter of absent concepts the image
  makes hardest are ranked first).

    python bench/calibrate_image_rule.py GT.json IMAGE_DIR --embedder open_clip:ViT-B-32:TAG
    [--images 500]

Needs real weights (a random model gives meaningless gaps); run it where they are cached.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from hardneg.miners.false_positive.ingest import phrase_of
from hardneg.service.settings import Settings
from hardneg.service.similarity import load_embedder


def gaps(gt: dict, folder: Path, embedder, limit: int) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    names = {c["id"]: phrase_of(c["name"]) for c in gt["categories"]}
    vocab = sorted(set(names.values()))
    text = embedder.encode_text(vocab)
    row = {p: i for i, p in enumerate(vocab)}
    on_image: dict = {}
    for a in gt["annotations"]:
        on_image.setdefault(a["image_id"], set()).add(names[a["category_id"]])
    present, absent = [], []
    for im in [i for i in gt["images"] if i["id"] in on_image][:limit]:
        pic = Image.open(folder / im["file_name"]).convert("RGB")
        s = text @ embedder.encode_image([pic])[0]
        there = on_image[im["id"]]
        mask = np.zeros(len(vocab), bool)
        mask[[row[p] for p in there]] = True
        for p in there:
            g = s[row[p]] - s
            present += g[mask & (np.arange(len(vocab)) != row[p])].tolist()
            absent += g[~mask].tolist()
    return np.array(present), np.array(absent)


def suggest(present: np.ndarray, absent: np.ndarray) -> tuple[float, float, float]:
    grid = np.linspace(-0.1, 0.1, 201)
    share = [
        (present <= t).sum() / max(1, (present <= t).sum() + (absent <= t).sum()) for t in grid
    ]
    demote = max((t for t, s in zip(grid, share, strict=True) if s >= 0.5), default=0.0)
    drop = min((-t for t, s in zip(grid, share, strict=True) if s >= 0.9), default=0.05)
    return float(demote), float(drop), float(np.percentile(absent, 25))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("gt", type=Path)
    p.add_argument("images", type=Path)
    p.add_argument("--embedder", default=None)
    p.add_argument("--images-max", type=int, default=500)
    args = p.parse_args()
    import json

    settings = Settings(**({"embedder": args.embedder} if args.embedder else {}))
    embedder = load_embedder(settings)
    if not hasattr(embedder, "encode_image"):
        raise SystemExit(f"{embedder.id} has no image tower")
    present, absent = gaps(json.loads(args.gt.read_text()), args.images, embedder, args.images_max)
    qs = (5, 10, 25, 50, 75, 90, 95)
    for name, g in (("present", present), ("absent", absent)):
        cells = " ".join(f"p{q}={np.percentile(g, q):+.3f}" for q in qs) if len(g) else "none"
        print(f"{name:8} n={len(g):6d} {cells}")
    if len(present) and len(absent):
        demote, drop, hard = suggest(present, absent)
        print(
            f"suggested: present_margin={demote:.3f} drop_margin={drop:.3f} hard_margin={hard:.3f}"
        )


if __name__ == "__main__":
    main()
