"""Ingest into both stores: stats, idempotence, rounds, and atomic rejection of bad files."""

from __future__ import annotations

import json

import pytest

from hardneg.miners.false_positive import IngestError, MatchOptions, ingest_round
from hardneg.miners.false_positive.records import EMPTY_VERSION
from tests.miners.false_positive import fixture

OPTS = MatchOptions()


async def test_ingest_stores_pairs_images_and_round_stats(store, files):
    report = await ingest_round(store, "r1", files["coco"], files["preds"], OPTS)
    assert not report.already_ingested
    assert (report.ingest.false_positives, report.ingest.image_level) == (9, 7)
    assert (report.ingest.confusions, report.ingest.pairs, report.ingest.new_pairs) == (6, 5, 5)
    assert report.stats.round == "r1" and report.stats.seq == 1 and report.stats.ingests == 1
    conf = await store.confusions("rhinoceros")
    assert {k: v["count"] for k, v in conf.items()} == {"elephant": 2, "zebra": 1}
    assert conf["elephant"]["rounds"] == ["r1"] and conf["elephant"]["examples"] == ["1"]
    assert conf["elephant"]["max_score"] == 0.5
    img = await store.image_false_positives("1")
    assert {k: v["count"] for k, v in img.items()} == {"elephant": 3, "horse": 1}
    assert await store.image_false_positives("5") == {}
    assert await store.version() == report.version != EMPTY_VERSION


async def test_reingest_of_same_round_and_content_is_idempotent(store, files, tmp_path):
    first = await ingest_round(store, "r1", files["coco"], files["preds"], OPTS)
    # the same content, re-serialised (other whitespace), sent as parsed objects
    again = await ingest_round(
        store, "r1", fixture.coco_gt(), json.dumps(fixture.predictions(), indent=2).encode(), OPTS
    )
    assert again.already_ingested and again.content_hash == first.content_hash
    assert again.stats == first.stats and again.version == first.version
    conf = await store.confusions("rhinoceros")
    assert conf["elephant"]["count"] == 2
    assert [r.ingests for r in await store.rounds()] == [1]


async def test_rounds_count_new_pairs_against_earlier_rounds(store, files):
    preds = fixture.predictions()
    early = [p for i, p in enumerate(preds) if i not in (6, 9)]  # round 1 misses two pairs
    r1 = await ingest_round(store, "model-v1", fixture.coco_gt(), early, OPTS)
    r2 = await ingest_round(store, "model-v2", files["coco"], files["preds"], OPTS)
    assert (r1.stats.pairs, r1.stats.new_pairs) == (3, 3)
    assert (r2.stats.pairs, r2.stats.new_pairs, r2.stats.seq) == (5, 2, 2)
    assert r2.version != r1.version
    conf = await store.confusions("rhinoceros")
    assert conf["elephant"]["count"] == 4 and conf["elephant"]["rounds"] == ["model-v1", "model-v2"]
    assert conf["elephant"]["first_round"] == "model-v1"
    rounds = await store.rounds()
    assert [r.round for r in rounds] == ["model-v1", "model-v2"]
    assert rounds[1].new_pair_fraction == 0.4


async def test_second_file_of_a_round_adds_to_it(store, files):
    preds = fixture.predictions()
    await ingest_round(store, "r1", fixture.coco_gt(), preds[:8], OPTS)
    report = await ingest_round(store, "r1", fixture.coco_gt(), preds[8:], OPTS)
    assert report.stats.ingests == 2 and report.stats.false_positives == 9
    assert report.stats.pairs == 5 and report.stats.new_pairs == 5


def _bad(kind: str) -> tuple[object, object, str]:
    """(ground truth, predictions, expected error text) with one kind of bad record."""
    gt, preds = fixture.coco_gt(), fixture.predictions()
    if kind == "malformed":
        return gt, json.dumps(preds).encode()[:-40], "predictions: malformed JSON"
    if kind == "nan":
        return gt, json.dumps(preds).replace("0.45", "NaN").encode(), "NaN is not valid JSON"
    if kind == "unknown image":
        preds[7]["image_id"] = 99
        return gt, preds, "predictions[7].image_id: unknown image id 99"
    if kind == "negative box":
        preds[3]["bbox"] = [0, 0, -5, 10]
        return gt, preds, "predictions[3].bbox: negative size -5x10"
    if kind == "score above 1":
        preds[9]["score"], preds[4]["score"] = 1.5, -0.1
        return (
            gt,
            preds,
            (
                "predictions[4].score: -0.1 is outside [0, 1]; "
                "predictions[9].score: 1.5 is outside [0, 1]"
            ),
        )
    if kind == "score not a number":
        preds[2]["score"] = "0.9"
        return gt, preds, "predictions[2].score: expected a number, got '0.9'"
    if kind == "unknown category":
        preds[5]["category_id"] = 42
        return gt, preds, "predictions[5].category_id: unknown category 42"
    if kind == "box too short":
        preds[1]["bbox"] = [1, 2, 3]
        return gt, preds, "predictions[1].bbox: expected [x, y, width, height], got [1, 2, 3]"
    if kind == "box missing":
        del preds[11]["bbox"]
        return gt, preds, "predictions[11].bbox: expected [x, y, width, height], got None"
    if kind == "box text":
        preds[0]["bbox"] = ["1", 2, 3, 4]
        return gt, preds, "predictions[0].bbox: expected [x, y, width, height], got ['1', 2, 3, 4]"
    if kind == "gt negative box":
        gt["annotations"][2]["bbox"] = [0, 0, 10, -1]
        return gt, preds, "annotations[2].bbox: negative size 10x-1"
    if kind == "gt unknown image":
        gt["annotations"][4]["image_id"] = 77
        return gt, preds, "annotations[4].image_id: unknown image id 77"
    raise AssertionError(kind)


KINDS = [
    "malformed",
    "nan",
    "unknown image",
    "negative box",
    "box too short",
    "box missing",
    "box text",
    "score above 1",
    "score not a number",
    "unknown category",
    "gt negative box",
    "gt unknown image",
]


@pytest.mark.parametrize("kind", KINDS)
async def test_bad_record_rejects_the_whole_file_and_stores_nothing(store, files, kind):
    await ingest_round(store, "r1", files["coco"], files["preds"], OPTS)
    before = (await store.version(), await store.rounds(), await store.confusions("rhinoceros"))
    gt, preds, expected = _bad(kind)
    with pytest.raises(IngestError) as err:
        await ingest_round(store, "r2", gt, preds, OPTS)
    assert expected in str(err.value)
    after = (await store.version(), await store.rounds(), await store.confusions("rhinoceros"))
    assert after == before


async def test_error_names_the_first_offending_records_and_counts_the_rest(store):
    preds = fixture.predictions()
    for p in preds:
        p["score"] = 2.0
    with pytest.raises(IngestError) as err:
        await ingest_round(store, "r1", fixture.coco_gt(), preds, OPTS)
    assert err.value.problems[0].startswith("predictions[0].score")
    assert len(err.value.problems) == 5 and "(and 10 more problems)" in str(err.value)
    assert await store.version() == EMPTY_VERSION and await store.rounds() == []


async def test_unreadable_path_and_bad_round_name(store, tmp_path, files):
    with pytest.raises(IngestError, match="cannot read"):
        await ingest_round(store, "r1", tmp_path / "missing.json", files["preds"], OPTS)
    with pytest.raises(IngestError, match="round"):
        await ingest_round(store, "  ", files["coco"], files["preds"], OPTS)
    with pytest.raises(IngestError, match="expected a JSON list"):
        await ingest_round(store, "r1", files["coco"], {"annotations": []}, OPTS)
