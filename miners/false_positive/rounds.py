"""One ingest, end to end: parse, validate, match (in a worker thread), then commit atomically."""

from __future__ import annotations

import asyncio
import hashlib
from typing import TYPE_CHECKING

import numpy as np

from hardneg.miners.false_positive.ingest import (
    IngestError,
    Source,
    load_json,
    parse_ground_truth,
    parse_predictions,
)
from hardneg.miners.false_positive.matching import MatchOptions, match
from hardneg.miners.false_positive.records import MAX_ROUND_CHARS, IngestReport, Prepared

if TYPE_CHECKING:
    from hardneg.miners.false_positive.ingest import GroundTruth, Predictions
    from hardneg.miners.false_positive.store import FPStore


def check_round(name: str) -> str:
    """A round name: 1-200 printable characters (it is a key in both stores)."""
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > MAX_ROUND_CHARS or not name.isprintable():
        raise IngestError("round", [f"expected 1-{MAX_ROUND_CHARS} printable characters"])
    return name


def content_hash(gt: GroundTruth, preds: Predictions, opts: MatchOptions) -> str:
    """Digest of what was parsed (not of the bytes): the same data sent as a file or as a
    request body, or with other whitespace or key order, is the same content."""
    h = hashlib.sha256()
    for text in (
        gt.image_ids,
        preds.vocab.identities,
        [str(gt.federated)],
        [f"{k}={v!r}" for k, v in sorted(opts.as_dict().items())],
    ):
        h.update("\x1f".join(text).encode())
        h.update(b"\x1e")
    arrays = (
        gt.ann_image,
        gt.ann_concept,
        gt.ann_box,
        gt.ann_crowd,
        gt.neg_keys,
        gt.not_exhaustive_keys,
        preds.image,
        preds.concept,
        preds.score,
        preds.box,
    )
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
        h.update(b"\x1e")
    return h.hexdigest()[:32]


def prepare(
    round_name: str, ground_truth: Source, predictions: Source, opts: MatchOptions
) -> Prepared:
    """Parse, validate and match one file pair (CPU-bound; raises IngestError on bad input)."""
    round_name = check_round(round_name)
    gt = parse_ground_truth(load_json(ground_truth, "ground_truth"))
    preds = parse_predictions(load_json(predictions, "predictions"), gt)
    result = match(gt, preds, opts)
    return Prepared(
        round=round_name,
        content_hash=content_hash(gt, preds, opts),
        counts=result.counts,
        thresholds=opts.as_dict(),
        pairs=result.pairs,
        images=result.images,
    )


async def ingest_round(
    store: FPStore, round_name: str, ground_truth: Source, predictions: Source, opts: MatchOptions
) -> IngestReport:
    """Ingest one file pair as (part of) a round; idempotent per (round, content hash)."""
    prep = await asyncio.to_thread(prepare, round_name, ground_truth, predictions, opts)
    return await store.apply(prep)
