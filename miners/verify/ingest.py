"""Read a detector's predictions on a round's queries (COCO results) and decide every query.

Predictions are COCO results whose ``image_id`` is the query id of the exported file (an SA-Co
style ``images`` entry is one (image, phrase) pair): ``{"image_id": 17, "score": 0.8, "bbox": [x,
y, w, h], "segmentation": {RLE}}``, ``segmentation`` optional. Strict like the false-positive
ingest: one bad record rejects the file and the message names the first few.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hardneg.miners.false_positive.ingest import IngestError, Source, load_json
from hardneg.miners.verify.outcome import (
    Decision,
    Detection,
    Instance,
    VerifyOptions,
    fired_decision,
    iou_matrix,
)
from hardneg.miners.verify.records import Query

__all__ = ["Predictions", "decide_round", "parse_predictions"]

MAX_REPORTED = 5


@dataclass
class Predictions:
    """COCO results as columns; ``masks`` holds the RLE of the rows that have one."""

    query: np.ndarray
    score: np.ndarray
    box: np.ndarray
    masks: dict[int, dict[str, Any]]
    content_hash: str

    def __len__(self) -> int:
        return len(self.score)


def _problem(i: int, r: Any) -> str | None:
    if not isinstance(r, dict):
        return f"predictions[{i}]: expected an object"
    qid, score, box = r.get("image_id", r.get("query_id")), r.get("score"), r.get("bbox")
    if type(qid) is not int:
        return f"predictions[{i}].image_id: expected the integer query id, got {qid!r:.40}"
    if not isinstance(score, int | float) or isinstance(score, bool) or not 0 <= score <= 1:
        return f"predictions[{i}].score: expected a number in [0, 1], got {score!r:.40}"
    if (
        not (type(box) is list and len(box) == 4 and all(type(x) in (int, float) for x in box))
        or not np.isfinite(box).all()
        or box[2] < 0
        or box[3] < 0
    ):
        return f"predictions[{i}].bbox: expected [x, y, width, height], got {box!r:.60}"
    seg = r.get("segmentation")
    if seg is not None and not (
        isinstance(seg, dict)
        and isinstance(seg.get("counts"), str)
        and len(seg.get("size", ())) == 2
    ):
        return f"predictions[{i}].segmentation: expected a compressed COCO RLE {{size, counts}}"
    return None


def parse_predictions(source: Source, known: Mapping[int, Any]) -> Predictions:
    """Validate COCO results against the round's query ids and return them as columns."""
    data = load_json(source, "predictions")
    if not isinstance(data, list):
        raise IngestError("predictions", ["expected a JSON list of COCO results"])
    problems = [p for i, r in enumerate(data) if (p := _problem(i, r)) is not None]
    if not problems:
        unknown = [
            i for i, r in enumerate(data) if r.get("image_id", r.get("query_id")) not in known
        ]
        problems = [
            f"predictions[{i}].image_id: {data[i].get('image_id', data[i].get('query_id'))} is"
            " not a query of this round"
            for i in unknown
        ]
    if problems:
        raise IngestError("predictions", problems[:MAX_REPORTED], len(problems))
    query = np.array([r.get("image_id", r.get("query_id")) for r in data], dtype=np.int64)
    score = np.array([r["score"] for r in data], dtype=np.float64)
    box = np.array([r["bbox"] for r in data], dtype=np.float64).reshape(-1, 4)
    masks = {i: r["segmentation"] for i, r in enumerate(data) if r.get("segmentation")}
    h = hashlib.sha256()
    for a in (query, score, box):
        h.update(np.ascontiguousarray(a).tobytes())
    for i in sorted(masks):
        h.update(f"{i}:{masks[i]['counts']}:{masks[i]['size']}".encode())
    return Predictions(query, score, box, masks, h.hexdigest()[:32])


def _box(row: np.ndarray) -> tuple[float, float, float, float]:
    x, y, w, h = row.tolist()
    return (x, y, w, h)


def decide_round(
    preds: Predictions,
    queries: Mapping[int, Query],
    truth: Mapping[str, list[Instance]],
    opts: VerifyOptions,
) -> dict[int, Decision]:
    """A decision for every query: ignored unless a detection fires, else the rule of
    :func:`~hardneg.miners.verify.outcome.decide` against the positives' instances on its
    image. IoU is computed once per image for all its firing detections (CPU-bound: run it in a
    worker thread)."""
    best: defaultdict[int, float] = defaultdict(float)
    for q, s in zip(preds.query.tolist(), preds.score.tolist(), strict=True):
        best[q] = max(best[q], s)
    by_image: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i in np.flatnonzero(preds.score >= opts.score_threshold).tolist():
        q = int(preds.query[i])
        by_image[queries[q].image_id][q].append(i)
    out = {qid: Decision("ignored", best.get(qid, 0.0)) for qid in queries}
    for image_id, per_query in by_image.items():
        inst = truth.get(image_id, [])
        rows = [i for q_rows in per_query.values() for i in q_rows]
        dets = [
            Detection(float(preds.score[i]), _box(preds.box[i]), preds.masks.get(i)) for i in rows
        ]
        iou = iou_matrix(dets, inst)
        at = 0
        for qid, q_rows in per_query.items():
            block = slice(at, at + len(q_rows))
            out[qid] = fired_decision(preds.score[q_rows], iou[block], inst, opts)
            at += len(q_rows)
    return out
