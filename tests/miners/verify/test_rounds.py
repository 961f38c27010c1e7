"""Rounds end to end on both stores: export, ingest hand-built detections (every outcome),
idempotency, conflicts, stats per miner and kind, held phrases and human checks."""

from __future__ import annotations

import json

import pytest

from hardneg.miners.errors import Conflict, NotFound
from hardneg.miners.false_positive.ingest import IngestError
from hardneg.miners.verify import VerifyOptions, standing
from hardneg.miners.verify.export import build_queries, read_dataset, write_coco, write_jsonl
from tests.miners.verify import fixture

OPTS = VerifyOptions(score_threshold=0.5, iou_threshold=0.5)


async def _export(store, files, name="r1"):
    data = read_dataset(files["dataset"])
    queries = build_queries(data, files["candidates"])
    truth = {q.image_id: data[q.image_id].instances for q in queries}
    return data, queries, await store.export(name, queries, truth)


async def test_every_outcome_and_its_stats(vstore, vfiles):
    _, queries, rep = await _export(vstore, vfiles)
    assert [q.phrase for q in queries] == [
        "yellow taxi",
        "red school bus",
        "minibus",
        "banana",
        "dog",
        "fox",
    ]
    assert rep.stats.totals.queries == 6 and not rep.already_exported
    got = await vstore.ingest("r1", vfiles["predictions"], OPTS)
    t = got.stats.totals
    assert (t.queries, t.fooled, t.ignored, t.elsewhere) == (6, 2, 2, 2)
    pm = {k: (v.queries, v.fooled, v.ignored, v.elsewhere) for k, v in got.stats.per_miner.items()}
    assert pm == {"vocabulary": (3, 2, 1, 0), "llm": (2, 0, 1, 1), "ontology": (2, 0, 1, 1)}
    pk = {k: (v.queries, v.fooled, v.ignored, v.elsewhere) for k, v in got.stats.per_kind.items()}
    assert pk == {"type": (5, 2, 2, 1), "colour": (1, 0, 0, 1)}
    img1 = await vstore.outcomes("1")
    where = {r.phrase: standing(r)[0] for r in img1.values()}
    assert where == {
        "yellow taxi": "lead",
        "red school bus": "hold",
        "minibus": "demote",
        "banana": "demote",
    }
    taxi = standing(next(r for r in img1.values() if r.phrase == "yellow taxi"))[1]
    assert taxi["score"] == 0.9 and taxi["iou"] > 0.8 and taxi["positive"] == "school bus"
    img2 = {r.phrase: r for r in (await vstore.outcomes("2")).values()}
    assert img2["dog"].rounds["r1"].outcome == "elsewhere"  # the box is the cat's, the mask is not
    assert img2["fox"].rounds["r1"].outcome == "fooled"
    assert sorted(r.phrase for r in await vstore.held()) == ["dog", "red school bus"]


async def test_reingest_and_reexport_are_idempotent_and_conflicts_refused(vstore, vfiles):
    await _export(vstore, vfiles)
    first = await vstore.ingest("r1", vfiles["predictions"], OPTS)
    again = await vstore.ingest("r1", json.loads(vfiles["predictions"].read_text()), OPTS)
    assert again.already_ingested and again.stats == first.stats
    assert (await vstore.round("r1")).totals == first.stats.totals
    other = fixture.predictions()[:-1]
    with pytest.raises(Conflict, match="already has other predictions"):
        await vstore.ingest("r1", other, OPTS)
    _, _, rep = await _export(vstore, vfiles)
    assert rep.already_exported
    data = read_dataset(vfiles["dataset"])
    fewer = build_queries(data, vfiles["candidates"])[:3]
    with pytest.raises(Conflict, match="exported with other queries"):
        await vstore.export("r1", fewer, {})
    with pytest.raises(NotFound, match="no verification round"):
        await vstore.ingest("nope", other, OPTS)


async def test_bad_predictions_reject_the_file_and_name_the_records(vstore, vfiles):
    await _export(vstore, vfiles)
    bad = [
        {"image_id": 1, "score": 1.5, "bbox": [0, 0, 1, 1]},
        {"image_id": 99, "score": 0.5, "bbox": [0, 0, 1, 1]},
        {"image_id": "1", "score": 0.5, "bbox": [0, 0, 1, 1]},
        {"image_id": 1, "score": 0.5, "bbox": [0, 0, -1, 1]},
    ]
    with pytest.raises(IngestError) as info:
        await vstore.ingest("r1", bad, OPTS)
    msg = str(info.value)
    assert "predictions[0].score" in msg and "predictions[2].image_id" in msg
    assert "predictions[3].bbox" in msg and "nothing was stored" in msg
    with pytest.raises(IngestError, match=r"predictions\[0\].image_id: 99 is not a query"):
        await vstore.ingest("r1", bad[1:2], OPTS)
    assert (await vstore.round("r1")).ingest_hash is None


async def test_a_human_check_releases_or_drops_a_held_phrase(vstore, vfiles):
    await _export(vstore, vfiles)
    await vstore.ingest("r1", vfiles["predictions"], OPTS)
    rec = await vstore.check("1", "Red School Bus", "absent")
    assert standing(rec)[0] == "lead" and rec.human == "absent"
    rec = await vstore.check("2", "dog", "present")
    assert standing(rec)[0] == "drop"
    assert await vstore.held() == []
    with pytest.raises(NotFound):
        await vstore.check("1", "zebra", "absent")


async def test_later_rounds_decide_but_elsewhere_holds(vstore, vfiles):
    await _export(vstore, vfiles)
    await vstore.ingest("r1", vfiles["predictions"], OPTS)
    data = read_dataset(vfiles["dataset"])
    queries = build_queries(data, vfiles["candidates"])
    truth = {q.image_id: data[q.image_id].instances for q in queries}
    rep = await vstore.export("r2", queries, truth)
    assert rep.stats.seq == 2
    # round 2: the detector now ignores everything
    await vstore.ingest("r2", [], OPTS)
    where = {r.phrase: standing(r)[0] for r in (await vstore.outcomes("1")).values()}
    assert where["yellow taxi"] == "demote"  # the latest round decides
    assert where["red school bus"] == "hold"  # once it fired elsewhere, only a human releases it
    assert [r.round for r in await vstore.rounds()] == ["r1", "r2"]


def test_export_writes_the_sa_co_layout_and_jsonl(vfiles, tmp_path):
    data = read_dataset(vfiles["dataset"])
    queries = build_queries(data, vfiles["candidates"])
    write_coco(tmp_path / "q.coco.json", "r1", queries, data)
    write_jsonl(tmp_path / "q.jsonl", queries, data)
    doc = json.loads((tmp_path / "q.coco.json").read_text())
    first = doc["images"][0]
    assert first["id"] == 1 and first["text_input"] == "yellow taxi"
    assert first["file_name"] == "img1.jpg" and (first["width"], first["height"]) == (200, 100)
    assert first["hardneg"]["image_id"] == "1" and doc["annotations"] == []
    assert len({im["id"] for im in doc["images"]}) == 6
    lines = [json.loads(x) for x in (tmp_path / "q.jsonl").read_text().splitlines()]
    assert lines[4] == {
        "query_id": 5,
        "file_name": "img2.jpg",
        "image_id": "2",
        "phrase": "dog",
        "positive": "cat",
        "sources": ["ontology"],
        "kind": "type",
    }


def test_candidates_for_unknown_images_are_refused(vfiles, tmp_path):
    extra = tmp_path / "more.jsonl"
    extra.write_text(
        vfiles["candidates"].read_text() + json.dumps({"id": "77", "negatives": []}) + "\n"
    )
    with pytest.raises(IngestError, match="image id '77' is not in the dataset"):
        build_queries(read_dataset(vfiles["dataset"]), extra)
