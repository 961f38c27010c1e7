"""The one rule for a detector's answer on an (image, phrase) pair: fooled, ignored or elsewhere.

SA-Co's data engine (SAM 3 paper, appendix D.4) keeps a proposed negative when the detector fires
on it *where the positive is*. For one image and one proposed negative phrase:

- **fooled**: a detection scores >= ``score_threshold`` and overlaps an instance of a positive at
  IoU >= ``iou_threshold`` (mask IoU when both sides have a mask, else box IoU): a proven hard
  negative;
- **ignored**: nothing scores >= ``score_threshold``: an easy negative;
- **elsewhere**: it fires, but away from every positive: the phrase may really be in the image, so
  it is held for a human check and never returned until someone says it is absent.

Offline rounds (ground-truth instances) and online verifiers (the detector's own detections of
the positive stand in for them) both call :func:`decide`. IoU comes from pycocotools, crowd
regions measured COCO's way (intersection over the detection's area).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = [
    "Decision",
    "Detection",
    "Instance",
    "Outcome",
    "VerifyOptions",
    "decide",
    "fired_decision",
    "iou_matrix",
    "to_rle",
]

Outcome = Literal["fooled", "ignored", "elsewhere"]


@dataclass(frozen=True)
class VerifyOptions:
    score_threshold: float = 0.5
    iou_threshold: float = 0.5

    def as_dict(self) -> dict[str, float]:
        return {"score": self.score_threshold, "iou": self.iou_threshold}


@dataclass(frozen=True)
class Instance:
    """A positive's instance: its phrase, COCO box (x, y, w, h, pixels), optional RLE mask."""

    phrase: str
    bbox: tuple[float, float, float, float]
    rle: dict[str, Any] | None = None
    iscrowd: bool = False


@dataclass(frozen=True)
class Detection:
    score: float
    bbox: tuple[float, float, float, float]
    rle: dict[str, Any] | None = None


@dataclass(frozen=True)
class Decision:
    """The outcome with its evidence: the deciding score, best IoU and the positive overlapped."""

    outcome: Outcome
    score: float
    iou: float = 0.0
    positive: str | None = None
    fired: int = 0  # detections at or above the score threshold

    def evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {"outcome": self.outcome, "score": round(self.score, 4)}
        if self.outcome == "fooled":
            out |= {"iou": round(self.iou, 4), "positive": self.positive}
        if self.fired:
            out["detections"] = self.fired
        return out


def to_rle(segmentation: Any, height: int | None, width: int | None) -> dict[str, Any] | None:
    """A compressed RLE (``counts`` as text, JSON-ready) from COCO's segmentation forms (RLE,
    uncompressed RLE, polygons); None when it cannot be made (polygons without the image size)."""
    from pycocotools import mask as mask_utils

    rle: Any = None
    if isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), str | bytes):
        rle = segmentation
    elif isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), list):
        h, w = segmentation["size"]
        rle = mask_utils.frPyObjects(segmentation, h, w)
    elif isinstance(segmentation, list) and segmentation and height and width:
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    if rle is None:
        return None
    counts = rle["counts"]
    text = counts.decode("ascii") if isinstance(counts, bytes) else counts
    return {"size": [int(x) for x in rle["size"]], "counts": text}


def _iou(dets: Sequence[Detection], truth: Sequence[Instance]) -> np.ndarray:
    """(detections x instances) IoU: mask IoU where both have masks of one size, else box IoU."""
    from pycocotools import mask as mask_utils

    crowd = [int(t.iscrowd) for t in truth]
    boxes_d = np.array([d.bbox for d in dets], dtype=np.float64).reshape(-1, 4)
    boxes_t = np.array([t.bbox for t in truth], dtype=np.float64).reshape(-1, 4)
    iou = np.asarray(mask_utils.iou(boxes_d, boxes_t, crowd), dtype=np.float64)
    iou = iou.reshape(len(dets), len(truth))
    md = [i for i, d in enumerate(dets) if d.rle is not None]
    mt = [j for j, t in enumerate(truth) if t.rle is not None]
    if md and mt:
        for j in mt:
            rle_t = truth[j].rle
            assert rle_t is not None
            same = [i for i in md if list(dets[i].rle["size"]) == list(rle_t["size"])]  # type: ignore[index]
            if same:
                m = mask_utils.iou([dets[i].rle for i in same], [rle_t], [crowd[j]])
                iou[same, j] = np.asarray(m, dtype=np.float64).reshape(-1)
    return iou


def decide(dets: Sequence[Detection], truth: Sequence[Instance], opts: VerifyOptions) -> Decision:
    """Fooled / ignored / elsewhere for one phrase on one image (see the module docstring)."""
    fired = [d for d in dets if d.score >= opts.score_threshold]
    if not fired:
        return Decision("ignored", max((d.score for d in dets), default=0.0))
    scores = np.array([d.score for d in fired])
    iou = _iou(fired, truth) if truth else np.zeros((len(fired), 0))
    return fired_decision(scores, iou, truth, opts)


def fired_decision(
    scores: np.ndarray, iou: np.ndarray, truth: Sequence[Instance], opts: VerifyOptions
) -> Decision:
    """The decision for a phrase that fired: ``scores`` of its firing detections and their
    (detections x instances) ``iou`` with the positives' instances."""
    top, n = float(scores.max()), len(scores)
    hits = iou >= opts.iou_threshold
    if not hits.any():
        return Decision("elsewhere", top, iou=float(iou.max(initial=0.0)), fired=n)
    score = float(scores[hits.any(axis=1)].max())
    i, j = (int(x) for x in np.unravel_index(int(np.argmax(np.where(hits, iou, -1.0))), iou.shape))
    return Decision("fooled", score, float(iou[i, j]), truth[j].phrase, fired=n)


def iou_matrix(dets: Sequence[Detection], truth: Sequence[Instance]) -> np.ndarray:
    """(detections x instances) IoU, the way :func:`decide` measures it (for batched callers)."""
    return _iou(dets, truth) if dets and truth else np.zeros((len(dets), len(truth)))
