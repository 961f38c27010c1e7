"""A hand-built round exercising every outcome (image size 100x100 for masks).

query  image  phrase          sources              kind    detections                 outcome
1      img1   yellow taxi     vocabulary           type    0.9 on the school bus      fooled (box)
2      img1   red school bus  llm                  colour  0.8 far from the bus       elsewhere
3      img1   minibus         vocabulary,ontology  type    0.3 on the bus             ignored (below 0.5)
4      img1   banana          llm                  type    none                       ignored
5      img2   dog             ontology             type    0.7, box = the cat's, mask elsewhere (mask IoU ~0)
                                                           on the other half
6      img2   fox             vocabulary           type    0.6, box IoU 0.62, no mask fooled (box)
"""

from __future__ import annotations

from typing import Any

import numpy as np

BUS = [10.0, 10.0, 100.0, 50.0]
CAT = [0.0, 0.0, 40.0, 40.0]


def dataset() -> dict[str, Any]:
    return {
        "images": [
            {"id": 1, "file_name": "img1.jpg", "width": 200, "height": 100},
            {"id": 2, "file_name": "img2.jpg", "width": 100, "height": 100},
        ],
        "categories": [{"id": 1, "name": "school_bus"}, {"id": 2, "name": "cat"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": BUS},
            {  # the lower-left triangle of the cat's box
                "id": 2,
                "image_id": 2,
                "category_id": 2,
                "bbox": CAT,
                "segmentation": [[0, 0, 0, 40, 40, 40]],
            },
        ],
    }


def _neg(phrase: str, positive: str, sources: list[str], kind: str = "type") -> dict[str, Any]:
    return {
        "phrase": phrase,
        "for_positive": positive,
        "sources": sources,
        "kind": kind,
        "score": 0.6,
    }


def candidates() -> list[dict[str, Any]]:
    """What ``hardneg batch`` writes: one answered item per line."""
    return [
        {
            "id": "1",
            "negatives": [
                _neg("yellow taxi", "school bus", ["vocabulary"]),
                _neg("red school bus", "school bus", ["llm"], "colour"),
                _neg("minibus", "school bus", ["ontology", "vocabulary"]),
                _neg("banana", "school bus", ["llm"]),
            ],
        },
        {
            "id": "2",
            "negatives": [_neg("dog", "cat", ["ontology"]), _neg("fox", "cat", ["vocabulary"])],
        },
    ]


def upper_right_rle() -> dict[str, Any]:
    """A mask over the upper-right triangle of the cat's box: inside its box, off its pixels."""
    from pycocotools import mask as mask_utils

    m = np.zeros((100, 100), dtype=np.uint8)
    for y in range(40):
        m[y, y + 2 : 40] = 1
    rle = mask_utils.encode(np.asfortranarray(m))
    return {"size": rle["size"], "counts": rle["counts"].decode()}


def predictions() -> list[dict[str, Any]]:
    return [
        {"image_id": 1, "category_id": 1, "score": 0.9, "bbox": [12.0, 11.0, 95.0, 48.0]},
        {"image_id": 1, "category_id": 1, "score": 0.2, "bbox": [150.0, 60.0, 20.0, 20.0]},
        {"image_id": 2, "category_id": 1, "score": 0.8, "bbox": [150.0, 60.0, 40.0, 30.0]},
        {"image_id": 3, "category_id": 1, "score": 0.3, "bbox": BUS},
        {
            "image_id": 5,
            "category_id": 1,
            "score": 0.7,
            "bbox": CAT,
            "segmentation": upper_right_rle(),
        },
        {"image_id": 6, "category_id": 1, "score": 0.6, "bbox": [5.0, 5.0, 40.0, 40.0]},
    ]
