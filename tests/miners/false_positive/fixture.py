"""A hand-built COCO / LVIS fixture whose answers are worked out by hand below.

Thresholds: score 0.3, IoU 0.5 for a match, IoU 0.3 for a confusion (the defaults).
Images: 1 rhinoceros + zebra, 2 elephant, 3 horse + person, 4 nothing, 5 a crowd of people.

COCO (every category exhaustively labelled on every image):
  p0  img1 rhinoceros on the rhino, 0.6       FP duplicate (p1 scores higher and takes the rhino);
                                              overlaps a rhino most -> not a confusion
  p1  img1 rhinoceros on the rhino, 0.9       TP
  p2  img1 elephant on the rhino, 0.45        FP image-level, confusion (rhinoceros, elephant)
  p3  img1 horse on the zebra, 0.7            FP image-level, confusion (zebra, horse)
  p4  img1 elephant far from anything, 0.35   FP image-level, no overlap -> no confusion
  p5  img1 zebra on the zebra, 0.2            below the score threshold
  p6  img2 rhinoceros on the elephant, 0.8    FP image-level, confusion (elephant, rhinoceros)
  p7  img2 elephant on the elephant, 0.95     TP
  p8  img3 horse on the horse, 0.9            TP
  p9  img3 zebra on the horse, 0.5            FP image-level, confusion (horse, zebra)
  p10 img4 rhinoceros, 0.7                    FP image-level (empty image), no confusion
  p11 img5 person inside the crowd, 0.8       ignored (crowd region of its own concept)
  p12 img3 phrase "pony" on the horse, 0.6    unverified: not in the ground truth's vocabulary
  p13 img1 phrase "Elephant" on the rhino, .5 FP image-level, confusion (rhinoceros, elephant)
  p14 img1 zebra on the rhino, 0.4            FP (zebra is present elsewhere), confusion
                                              (rhinoceros, zebra), not image-level

LVIS (same files plus per-image label lists): img1 neg [elephant], not exhaustive [zebra];
img2 neg [rhinoceros]; img3 none; img4 neg [rhinoceros]. Then p3 (horse: neither present nor
verified absent on img1), p9 (zebra on img3), p12 and p14 (zebra not exhaustive) are unverified.
"""

from __future__ import annotations

import copy
from typing import Any

RHINO, ELEPHANT, ZEBRA, HORSE, PERSON = 1, 2, 3, 4, 5

CATEGORIES = [
    {"id": RHINO, "name": "rhinoceros"},
    {"id": ELEPHANT, "name": "elephant"},
    {"id": ZEBRA, "name": "zebra"},
    {"id": HORSE, "name": "horse"},
    {"id": PERSON, "name": "person"},
]


def coco_gt() -> dict[str, Any]:
    images = [
        {"id": i, "file_name": f"{i:012d}.jpg", "width": 640, "height": 480}
        for i in (1, 2, 3, 4, 5)
    ]
    anns = [
        {"id": 1, "image_id": 1, "category_id": RHINO, "bbox": [10, 10, 100, 80]},
        {"id": 2, "image_id": 1, "category_id": ZEBRA, "bbox": [200, 50, 60, 60]},
        {"id": 3, "image_id": 2, "category_id": ELEPHANT, "bbox": [0, 0, 200, 150]},
        {"id": 4, "image_id": 3, "category_id": HORSE, "bbox": [50, 50, 100, 100]},
        {
            "id": 5,
            "image_id": 3,
            "category_id": PERSON,
            "bbox": [60, 20, 40, 90],
            "segmentation": [[60, 20, 100, 20, 100, 110, 60, 110]],
        },
        {"id": 6, "image_id": 5, "category_id": PERSON, "bbox": [0, 0, 300, 300], "iscrowd": 1},
    ]
    return {"images": images, "annotations": anns, "categories": copy.deepcopy(CATEGORIES)}


def lvis_gt() -> dict[str, Any]:
    gt = coco_gt()
    labels = {1: ([ELEPHANT], [ZEBRA]), 2: ([RHINO], []), 3: ([], []), 4: ([RHINO], [])}
    for img in gt["images"]:
        if img["id"] in labels:
            img["neg_category_ids"], img["not_exhaustive_category_ids"] = labels[img["id"]]
    return gt


def predictions() -> list[dict[str, Any]]:
    def p(image_id: int, cat: int | str, bbox: list[float], score: float) -> dict[str, Any]:
        concept = {"phrase": cat} if isinstance(cat, str) else {"category_id": cat}
        return {"image_id": image_id, **concept, "bbox": bbox, "score": score}

    return [
        p(1, RHINO, [11, 11, 99, 79], 0.6),  # p0
        p(1, RHINO, [12, 12, 98, 78], 0.9),  # p1
        p(1, ELEPHANT, [10, 10, 100, 80], 0.45),  # p2
        p(1, HORSE, [200, 50, 60, 60], 0.7),  # p3
        p(1, ELEPHANT, [400, 300, 50, 50], 0.35),  # p4
        p(1, ZEBRA, [200, 50, 60, 60], 0.2),  # p5
        p(2, RHINO, [5, 5, 190, 140], 0.8),  # p6
        p(2, ELEPHANT, [0, 0, 200, 150], 0.95),  # p7
        p(3, HORSE, [50, 50, 100, 100], 0.9),  # p8
        p(3, ZEBRA, [52, 52, 96, 96], 0.5),  # p9
        p(4, RHINO, [0, 0, 50, 50], 0.7),  # p10
        p(5, PERSON, [10, 10, 50, 100], 0.8),  # p11
        p(3, "pony", [50, 50, 100, 100], 0.6),  # p12
        p(1, "Elephant", [14, 10, 96, 80], 0.5),  # p13
        p(1, ZEBRA, [10, 10, 100, 80], 0.4),  # p14
    ]


COCO_FALSE_POSITIVES = [0, 2, 3, 4, 6, 9, 10, 13, 14]
COCO_IMAGE_LEVEL = [2, 3, 4, 6, 9, 10, 13]
COCO_CONFUSIONS = {  # prediction -> the present concept it is confused with
    2: "rhinoceros",
    3: "zebra",
    6: "elephant",
    9: "horse",
    13: "rhinoceros",
    14: "rhinoceros",
}
COCO_PAIRS = {
    ("rhinoceros", "elephant"): 2,
    ("rhinoceros", "zebra"): 1,
    ("zebra", "horse"): 1,
    ("elephant", "rhinoceros"): 1,
    ("horse", "zebra"): 1,
}

LVIS_FALSE_POSITIVES = [0, 2, 4, 6, 10, 13]
LVIS_IMAGE_LEVEL = [2, 4, 6, 10, 13]
LVIS_PAIRS = {("rhinoceros", "elephant"): 2, ("elephant", "rhinoceros"): 1}
LVIS_UNVERIFIED = 4  # p3, p9, p12, p14
