"""COCO-style matching of predictions to ground truth, vectorised over all images at once.

Per image and concept, predictions in descending score order greedily take the unmatched
instance they overlap most (IoU >= ``iou_threshold``), as COCO evaluation does. What stays
unmatched, is not inside a crowd region of its concept, and whose concept is verified for the
image is a false positive: image-level when the concept is absent from the image, a confusion
when the instance it overlaps most (IoU >= ``confusion_iou``) is of another concept.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from hardneg.miners.false_positive.ingest import GroundTruth, Predictions, key_of, pair_keys
from hardneg.miners.false_positive.records import MAX_EXAMPLES, Counts, ImageDelta, PairDelta

PAIR_CHUNK = 1_000_000  # (prediction, instance) pairs per block: bounds memory at ~100 MB


@dataclass(frozen=True)
class MatchOptions:
    score_threshold: float = 0.3
    iou_threshold: float = 0.5
    confusion_iou: float = 0.3

    @classmethod
    def from_settings(cls, settings: Any) -> MatchOptions:
        return cls(
            settings.fp_score_threshold, settings.fp_iou_threshold, settings.fp_confusion_iou
        )

    def as_dict(self) -> dict[str, float]:
        return {
            "score": self.score_threshold,
            "iou": self.iou_threshold,
            "confusion_iou": self.confusion_iou,
        }


@dataclass
class MatchResult:
    """Counters, per-prediction verdicts (indices into the predictions) and aggregated deltas."""

    counts: Counts
    false_positive: np.ndarray
    image_level: np.ndarray
    confused_with: np.ndarray
    pairs: list[PairDelta]
    images: list[ImageDelta]


@dataclass
class _Overlaps:
    cand_pred: np.ndarray  # same-concept, non-crowd pairs with IoU >= threshold
    cand_gt: np.ndarray
    cand_iou: np.ndarray
    crowd_hit: np.ndarray  # per prediction: inside a crowd region of its own concept
    best_iou: np.ndarray  # per prediction: its largest IoU with any instance
    best_concept: np.ndarray  # ... and that instance's concept (-1: overlaps nothing)

    @classmethod
    def empty(cls, n: int) -> _Overlaps:
        none = np.empty(0, np.int64)
        return cls(
            none, none, np.empty(0), np.zeros(n, bool), np.zeros(n), np.full(n, -1, np.int64)
        )


def _expand(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (prediction, instance) index pairs where instance is in [start, end) of its image."""
    counts = end - start
    pi = np.repeat(np.arange(len(start)), counts)
    offsets = np.cumsum(counts) - counts
    gi = start[pi] + (np.arange(len(pi)) - offsets[pi])
    return pi, gi


def _blocks(start: np.ndarray, end: np.ndarray) -> Iterator[tuple[int, int]]:
    """Prediction ranges whose pairs fit in PAIR_CHUNK (a range holds at least one prediction)."""
    cum = np.cumsum(end - start)
    lo = 0
    while lo < len(start):
        base = cum[lo - 1] if lo else 0
        hi = max(lo + 1, int(np.searchsorted(cum, base + PAIR_CHUNK, side="right")))
        yield lo, hi
        lo = hi


def _box_overlap(pb: np.ndarray, gb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intersection, prediction area and instance area of row-aligned xywh boxes."""
    x1 = np.maximum(pb[:, 0], gb[:, 0])
    y1 = np.maximum(pb[:, 1], gb[:, 1])
    x2 = np.minimum(pb[:, 0] + pb[:, 2], gb[:, 0] + gb[:, 2])
    y2 = np.minimum(pb[:, 1] + pb[:, 3], gb[:, 1] + gb[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    return inter, pb[:, 2] * pb[:, 3], gb[:, 2] * gb[:, 3]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _overlaps(
    p_img: np.ndarray,
    p_con: np.ndarray,
    p_box: np.ndarray,
    gt: GroundTruth,
    g_order: np.ndarray,
    opts: MatchOptions,
) -> _Overlaps:
    g_img = gt.ann_image[g_order]
    g_con, g_box, g_crowd = (gt.ann_concept[g_order], gt.ann_box[g_order], gt.ann_crowd[g_order])
    start = np.searchsorted(g_img, p_img, side="left")
    end = np.searchsorted(g_img, p_img, side="right")
    ov = _Overlaps.empty(len(p_img))
    cands = []
    for lo, hi in _blocks(start, end):
        pi, gi = _expand(start[lo:hi], end[lo:hi])
        pi += lo
        inter, area_p, area_g = _box_overlap(p_box[pi], g_box[gi])
        iou = _ratio(inter, area_p + area_g - inter)
        same, crowd = p_con[pi] == g_con[gi], g_crowd[gi]
        hit = same & ~crowd & (iou >= opts.iou_threshold)
        cands.append((pi[hit], gi[hit], iou[hit]))
        # COCO: a crowd region matches any part of it, so overlap is measured on the prediction
        ov.crowd_hit[pi[same & crowd & (_ratio(inter, area_p) >= opts.iou_threshold)]] = True
        first = _group_firsts(pi, np.lexsort((-iou, pi)))
        first = first[iou[first] > 0]
        ov.best_iou[pi[first]], ov.best_concept[pi[first]] = iou[first], g_con[gi[first]]
    if cands:
        ov.cand_pred, ov.cand_gt, ov.cand_iou = (
            np.concatenate(c) for c in zip(*cands, strict=True)
        )
    return ov


def _group_firsts(group: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Index of the first element of each group in ``order`` (groups sorted ascending)."""
    g = group[order]
    keep = np.ones(len(g), bool)
    keep[1:] = g[1:] != g[:-1]
    return order[keep]


def _greedy(ov: _Overlaps, score: np.ndarray) -> np.ndarray:
    """COCO greedy matching: by score (ties: input order), each takes its best free instance."""
    order = np.lexsort((-ov.cand_iou, ov.cand_pred, -score[ov.cand_pred]))
    matched = bytearray(len(score))
    taken: set[int] = set()
    for p, g in zip(ov.cand_pred[order].tolist(), ov.cand_gt[order].tolist(), strict=True):
        if not matched[p] and g not in taken:
            matched[p] = 1
            taken.add(g)
    return np.frombuffer(bytes(matched), dtype=np.uint8).astype(bool)


def _verified(
    gt: GroundTruth, key: np.ndarray, concept: np.ndarray, present: np.ndarray
) -> np.ndarray:
    """Whether absence of a match is a confirmed mistake for each (image, concept)."""
    # LVIS: only concepts verified present or verified absent on the image count;
    # COCO: every category of the vocabulary is exhaustively labelled on every image
    ok = present | np.isin(key, gt.neg_keys) if gt.federated else concept < gt.n_labelled
    return ok & ~np.isin(key, gt.not_exhaustive_keys)


def match(gt: GroundTruth, preds: Predictions, opts: MatchOptions) -> MatchResult:
    """Classify every prediction and aggregate false positives into table deltas."""
    keep = np.flatnonzero(preds.score >= opts.score_threshold)
    p_img, p_con, p_score = preds.image[keep], preds.concept[keep], preds.score[keep]
    ov = _overlaps(p_img, p_con, preds.box[keep], gt, np.argsort(gt.ann_image, kind="stable"), opts)
    matched = _greedy(ov, p_score)
    ignored = ~matched & ov.crowd_hit
    key = pair_keys(p_img, p_con)
    present = np.isin(key, pair_keys(gt.ann_image, gt.ann_concept))
    verified = _verified(gt, key, p_con, present)
    fp = ~matched & ~ignored & verified
    image_level = fp & ~present
    confused = np.where(
        fp & (ov.best_iou >= opts.confusion_iou) & (ov.best_concept != p_con), ov.best_concept, -1
    )
    counts = Counts(  # the subsets overlap: see docs/false_positives.md
        images=len(gt.image_ids),
        predictions=len(preds.score),
        below_threshold=len(preds.score) - len(keep),
        true_positives=int(matched.sum()),
        false_positives=int(fp.sum()),
        image_level=int(image_level.sum()),
        confusions=int((confused >= 0).sum()),
        unverified=int((~matched & ~ignored & ~verified).sum()),
        ignored_crowd=int(ignored.sum()),
        images_with_false_positives=len(np.unique(p_img[fp])),
    )
    phrases = np.array(preds.vocab.phrases, dtype=object)
    keys = np.array([key_of(p) for p in preds.vocab.phrases], dtype=object)
    ids = np.array(gt.image_ids, dtype=object)[p_img]
    c, lv = confused >= 0, image_level
    return MatchResult(
        counts=counts,
        false_positive=keep[fp],
        image_level=keep[lv],
        confused_with=confused[fp],
        pairs=_pair_deltas(
            keys[confused[c]], phrases[p_con[c]], keys[p_con[c]], p_score[c], ids[c]
        ),
        images=_image_deltas(ids[lv], phrases[p_con[lv]], p_score[lv]),
    )


@dataclass
class _Groups:
    """Rows sorted by (a, b, -score), cut into runs of equal (a, b)."""

    order: np.ndarray
    starts: np.ndarray
    count: list[int]
    total: list[float]
    best: list[float]

    @property
    def firsts(self) -> np.ndarray:
        return self.order[self.starts]


def _grouped(a: np.ndarray, b: np.ndarray, score: np.ndarray) -> _Groups:
    if len(a) == 0:
        empty = np.empty(0, np.int64)
        return _Groups(empty, empty, [], [], [])
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    order = np.lexsort((-score, bi, ai))
    ka, kb = ai[order], bi[order]
    starts = np.flatnonzero(np.r_[True, (ka[1:] != ka[:-1]) | (kb[1:] != kb[:-1])])
    s = score[order]
    return _Groups(
        order,
        starts,
        np.diff(np.r_[starts, len(order)]).tolist(),
        np.add.reduceat(s, starts).tolist(),
        s[starts].tolist(),
    )


def _pair_deltas(
    present: np.ndarray,
    predicted: np.ndarray,
    predicted_key: np.ndarray,
    score: np.ndarray,
    image: np.ndarray,
) -> list[PairDelta]:
    """One delta per (present concept's key, predicted phrase) pair; a concept confused with
    itself (same key) is dropped."""
    differ = present != predicted_key
    present, predicted, score, image = (x[differ] for x in (present, predicted, score, image))
    g = _grouped(present, predicted, score)
    out = []
    for k, first in enumerate(g.firsts.tolist()):
        lo = int(g.starts[k])
        rows = g.order[lo : lo + min(g.count[k], MAX_EXAMPLES * 8)]  # best-scored first
        examples = tuple(dict.fromkeys(image[rows].tolist()))[:MAX_EXAMPLES]
        out.append(
            PairDelta(present[first], predicted[first], g.count[k], g.total[k], g.best[k], examples)
        )
    return out


def _image_deltas(image: np.ndarray, concept: np.ndarray, score: np.ndarray) -> list[ImageDelta]:
    g = _grouped(image, concept, score)
    firsts = g.firsts
    return [
        ImageDelta(*row)
        for row in zip(
            image[firsts].tolist(), concept[firsts].tolist(), g.count, g.total, g.best, strict=True
        )
    ]
