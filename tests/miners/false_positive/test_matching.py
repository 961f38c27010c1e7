"""Matching on the hand-built fixture: which predictions are false positives, and of which kind."""

from __future__ import annotations

import numpy as np

from hardneg.miners.false_positive import MatchOptions, match
from hardneg.miners.false_positive.ingest import parse_ground_truth, parse_predictions
from tests.miners.false_positive import fixture


def _run(gt_data, preds_data, opts=MatchOptions()):
    gt = parse_ground_truth(gt_data)
    preds = parse_predictions(preds_data, gt)
    return match(gt, preds, opts), preds


def _confusions(result, preds) -> dict[int, str]:
    return {
        int(i): preds.vocab.phrases[c]
        for i, c in zip(result.false_positive, result.confused_with, strict=True)
        if c >= 0
    }


def test_coco_false_positives_image_level_and_confusions():
    result, preds = _run(fixture.coco_gt(), fixture.predictions())
    assert result.false_positive.tolist() == fixture.COCO_FALSE_POSITIVES
    assert result.image_level.tolist() == fixture.COCO_IMAGE_LEVEL
    assert _confusions(result, preds) == fixture.COCO_CONFUSIONS
    assert {(d.present, d.predicted): d.count for d in result.pairs} == fixture.COCO_PAIRS
    c = result.counts
    assert (c.predictions, c.below_threshold, c.true_positives, c.false_positives) == (15, 1, 3, 9)
    assert (c.image_level, c.confusions, c.unverified, c.ignored_crowd) == (7, 6, 1, 1)


def test_pair_and_image_aggregates_carry_scores_and_examples():
    result, _ = _run(fixture.coco_gt(), fixture.predictions())
    pair = next(d for d in result.pairs if (d.present, d.predicted) == ("rhinoceros", "elephant"))
    assert pair.max_score == 0.5 and abs(pair.sum_score - 0.95) < 1e-9
    assert pair.examples == ("1",)
    images = {(d.image_id, d.concept): d.count for d in result.images}
    assert images == {
        ("1", "elephant"): 3,
        ("1", "horse"): 1,
        ("2", "rhinoceros"): 1,
        ("3", "zebra"): 1,
        ("4", "rhinoceros"): 1,
    }


def test_lvis_neg_and_not_exhaustive_lists_decide_what_is_confirmed():
    result, _ = _run(fixture.lvis_gt(), fixture.predictions())
    assert result.false_positive.tolist() == fixture.LVIS_FALSE_POSITIVES
    assert result.image_level.tolist() == fixture.LVIS_IMAGE_LEVEL
    assert {(d.present, d.predicted): d.count for d in result.pairs} == fixture.LVIS_PAIRS
    assert result.counts.unverified == fixture.LVIS_UNVERIFIED


def test_not_exhaustive_category_is_never_a_confirmed_false_positive():
    # zebra on the rhino (p14) is a confusion under COCO rules ...
    coco, _ = _run(fixture.coco_gt(), fixture.predictions())
    assert 14 in coco.false_positive.tolist()
    # ... but zebra is not exhaustively labelled on image 1 in the LVIS file: unverified
    lvis, _ = _run(fixture.lvis_gt(), fixture.predictions())
    assert 14 not in lvis.false_positive.tolist()
    assert ("rhinoceros", "zebra") not in {(d.present, d.predicted) for d in lvis.pairs}


def test_greedy_matching_goes_by_score_not_file_order():
    preds = fixture.predictions()
    preds[0]["score"], preds[1]["score"] = 0.9, 0.6  # now p0 is the better rhino, p1 the duplicate
    result, _ = _run(fixture.coco_gt(), preds)
    assert 1 in result.false_positive.tolist() and 0 not in result.false_positive.tolist()


def test_thresholds_change_the_verdicts():
    strict = MatchOptions(score_threshold=0.6, iou_threshold=0.5, confusion_iou=0.3)
    result, _ = _run(fixture.coco_gt(), fixture.predictions(), strict)
    # only p0 (0.6), p3 (0.7), p6 (0.8), p10 (0.7) remain false positives at score >= 0.6
    assert result.false_positive.tolist() == [0, 3, 6, 10]
    loose_iou = MatchOptions(score_threshold=0.3, iou_threshold=0.5, confusion_iou=0.95)
    result, _ = _run(fixture.coco_gt(), fixture.predictions(), loose_iou)
    # only exact overlaps count as confusions now: p2, p3, p14 sit exactly on an instance
    assert sorted({(d.present, d.predicted) for d in result.pairs}) == [
        ("rhinoceros", "elephant"),
        ("rhinoceros", "zebra"),
        ("zebra", "horse"),
    ]


def test_open_vocabulary_ground_truth_and_lvis_style_names():
    gt = {
        "images": [{"id": "a.jpg"}],
        "categories": [{"id": 7, "name": "bus_(vehicle)"}],
        "annotations": [
            {"image_id": "a.jpg", "phrase": "yellow school bus", "bbox": [0, 0, 100, 50]},
            {"image_id": "a.jpg", "category_id": 7, "bbox": [200, 0, 100, 50]},
        ],
    }
    preds = [
        {"image_id": "a.jpg", "phrase": "Yellow  Taxi", "bbox": [0, 0, 100, 50], "score": 0.5},
        {"image_id": "a.jpg", "phrase": "bus", "bbox": [200, 0, 100, 50], "score": 0.9},
        {"image_id": "a.jpg", "phrase": "yellow_school_bus", "bbox": [0, 0, 100, 50], "score": 0.8},
    ]
    result, _ = _run(gt, preds)
    # "bus" is the one sense of bus_(vehicle) and matches it; the school bus is matched too
    assert result.counts.true_positives == 2
    # "yellow taxi" is outside the ground truth's vocabulary: not a confirmed false positive
    assert result.counts.unverified == 1 and result.false_positive.size == 0


def test_many_images_vectorised_blocks_agree_with_small_blocks(monkeypatch):
    rng = np.random.default_rng(0)
    n_img = 40
    gt = {
        "images": [{"id": i} for i in range(n_img)],
        "categories": [{"id": c, "name": f"thing {c}"} for c in range(6)],
        "annotations": [
            {
                "image_id": int(i),
                "category_id": int(rng.integers(6)),
                "bbox": [float(x) for x in rng.uniform(0, 200, 4)],
            }
            for i in rng.integers(0, n_img, 200)
        ],
    }
    preds = [
        {
            "image_id": int(i),
            "category_id": int(rng.integers(6)),
            "score": float(s),
            "bbox": [float(x) for x in rng.uniform(0, 200, 4)],
        }
        for i, s in zip(rng.integers(0, n_img, 2000), rng.uniform(0, 1, 2000), strict=True)
    ]
    whole, _ = _run(gt, preds)
    import hardneg.miners.false_positive.matching as m

    monkeypatch.setattr(m, "PAIR_CHUNK", 7)
    chunked, _ = _run(gt, preds)
    assert whole.false_positive.tolist() == chunked.false_positive.tolist()
    assert whole.pairs == chunked.pairs and whole.counts == chunked.counts
    assert whole.counts.true_positives > 0 and whole.counts.confusions > 0
