"""Batch regeneration: inputs (JSONL, COCO, LVIS, SA-Co, concept lists), resume keyed on item,
options and versions, clear input errors, and answers equal to one request per item."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from hardneg.clients.cli.batch import run_batch
from hardneg.clients.cli.batch_inputs import BatchInputError, iter_items
from hardneg.miners.types import MineOptions, NegativesRequest, RequestItem

DATA = Path("/work/shared/data")
COCO_CATS = [
    {"id": 1, "name": "person"},
    {"id": 2, "name": "bicycle"},
    {"id": 3, "name": "car"},
    {"id": 18, "name": "dog"},
    {"id": 44, "name": "bottle"},
    {"id": 62, "name": "chair"},
    {"id": 6, "name": "bus"},
    {"id": 17, "name": "cat"},
]


def coco_file(path: Path, n_images: int, seed: int = 0, empty: int = 0) -> Path:
    """A COCO annotation file of ``n_images`` images with 1-3 categories each (plus ``empty``
    images without annotations at the end)."""
    rng = random.Random(seed)
    images, anns = [], []
    for i in range(1, n_images + empty + 1):
        images.append({"id": i, "file_name": f"{i:06d}.jpg", "width": 64, "height": 48})
        if i > n_images:
            continue
        for cat in rng.sample(COCO_CATS, rng.randint(1, 3)):
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": cat["id"],
                         "bbox": [1, 2, 10, 12], "area": 120, "iscrowd": 0})  # fmt: skip
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": COCO_CATS}))
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


async def test_jsonl_run_is_resumable(tmp_path: Path, in_process):
    src = tmp_path / "items.jsonl"
    src.write_text(
        "\n".join(
            json.dumps({"id": f"img-{i}", "positives": [p]})
            for i, p in enumerate(["zebra", "violin", "teapot", "bicycle", "lamp"])
        )
        + "\n"
    )
    out = tmp_path / "out.jsonl"
    first = await run_batch(src, out, MineOptions(k=5), chunk=2)
    assert (first.total, first.skipped, first.written) == (5, 0, 5)
    text = out.read_text()
    out.write_text(text[: text.index("img-3") + 10])  # killed while writing img-3's line
    report = await run_batch(src, out, MineOptions(k=5), chunk=2)
    assert (report.total, report.skipped, report.written) == (5, 3, 2)
    got = lines(out)  # the torn line was cut, nothing doubled
    assert [x["id"] for x in got] == ["img-0", "img-1", "img-2", "img-3", "img-4"]
    assert all(len(x["negatives"]) == 5 for x in got)
    again = await run_batch(src, out, MineOptions(k=5))
    assert again.written == 0 and again.skipped == 5


async def test_other_options_are_detected_and_recomputed(tmp_path: Path, in_process):
    src = coco_file(tmp_path / "gt.json", 6)
    out = tmp_path / "out.jsonl"
    await run_batch(src, out, MineOptions(k=4))
    report = await run_batch(src, out, MineOptions(k=6))
    assert report.stale_options == 6 and report.written == 6 and report.skipped == 0
    got = lines(out)
    assert sorted(x["id"] for x in got) == [str(i) for i in range(1, 7)]  # one record per image
    assert all(len(x["negatives"]) == 6 for x in got)
    forced = await run_batch(src, out, MineOptions(k=6), force=True)
    assert forced.written == 6 and forced.skipped == 0 and len(lines(out)) == 6


async def test_version_change_recomputes_only_older_records(tmp_path: Path, in_process):
    src = coco_file(tmp_path / "gt.json", 5)
    out = tmp_path / "out.jsonl"
    await run_batch(src, out, MineOptions(k=3))
    recs = lines(out)
    recs[2]["versions"]["miner:vocabulary"] = "0-older"  # made by an older miner
    out.write_text("".join(json.dumps(r) + "\n" for r in recs))
    report = await run_batch(src, out, MineOptions(k=3))
    assert (report.stale_versions, report.written, report.skipped) == (1, 1, 4)
    again = lines(out)
    assert len(again) == 5 and again[-1]["id"] == recs[2]["id"]
    assert again[-1]["versions"] == recs[0]["versions"]


async def test_batch_answers_equal_one_request_per_item(tmp_path: Path, make_pipeline):
    """The decomposed path (many items per request, positives mined once and shared) answers
    every item exactly as a request for that item alone does, on a pipeline of its own."""
    rng = random.Random(3)
    names = [c["name"] for c in COCO_CATS] + ["yellow school bus", "violin", "teapot"]
    items = []
    for i in range(24):
        shown = rng.sample(names, rng.randint(1, 4))
        items.append(RequestItem(id=f"i{i}", positives=shown[:2], present=shown[2:]))
    batched = make_pipeline()
    single = make_pipeline()
    together = await batched.mine(NegativesRequest(items=items, k=8))
    for item, got in zip(items, together.items, strict=True):
        alone = (await single.mine(NegativesRequest(items=[item], k=8))).items[0]
        assert [n.model_dump() for n in got.negatives] == [n.model_dump() for n in alone.negatives]
        assert got.degraded == alone.degraded
        assert {k: v.note for k, v in got.miners.items()} == {
            k: v.note for k, v in alone.miners.items()
        }
    await batched.aclose()
    await single.aclose()


async def test_coco_and_lvis_input(tmp_path: Path, in_process):
    lvis = json.loads((DATA / "lvis_v1_categories.json").read_text())
    cats = (lvis["categories"] if isinstance(lvis, dict) else lvis)[:40]
    by_id = {c["id"]: c["name"] for c in cats}
    ids = list(by_id)
    data = {
        "images": [
            {
                "id": 1,
                "file_name": "a.jpg",
                "neg_category_ids": [ids[5]],
                "not_exhaustive_category_ids": [ids[0], ids[7]],
            },
            {
                "id": 2,
                "file_name": "b.jpg",
                "neg_category_ids": [],
                "not_exhaustive_category_ids": [],
            },
        ],
        "annotations": [{"id": 1, "image_id": 1, "category_id": ids[0], "bbox": [0, 0, 1, 1]}],
        "categories": cats,
    }
    src = tmp_path / "lvis.json"
    src.write_text(json.dumps(data))
    got = list(iter_items(src))
    assert got[0].item is not None and got[0].item.positives == [by_id[ids[0]].replace("_", " ")]
    unsure = by_id[ids[7]].replace("_", " ")
    assert got[0].item.present == [unsure]  # may be there, so never a negative
    assert got[0].meta["verified_negatives"] == [by_id[ids[5]].replace("_", " ")]
    assert got[1].item is None and "no annotations" in (got[1].note or "")
    out = tmp_path / "out.jsonl"
    report = await run_batch(src, out, MineOptions(k=5))
    recs = lines(out)
    assert [r["id"] for r in recs] == ["1", "2"] and report.notes == 1
    assert recs[1]["negatives"] == [] and "no annotations" in recs[1]["note"]
    assert unsure not in {n["phrase"] for n in recs[0]["negatives"]}


def test_saco_and_concept_list_input(tmp_path: Path):
    saco = {
        "images": [
            {"id": 1, "file_name": "x.jpg", "text_input": "striped cat"},
            {"id": 2, "file_name": "x.jpg", "text_input": "red car"},
            {"id": 3, "file_name": "y.jpg", "text_input": "dog"},
        ],
        "annotations": [{"id": 1, "image_id": 1, "bbox": [0, 0, 2, 2], "category_id": 1}],
        "categories": [{"id": 1, "name": "object"}],
    }
    path = tmp_path / "saco.json"
    path.write_text(json.dumps(saco))
    got = list(iter_items(path))
    assert got[0].id == "x.jpg" and got[0].item and got[0].item.positives == ["striped cat"]
    assert got[0].meta["verified_negatives"] == ["red car"]
    assert got[1].id == "y.jpg" and got[1].item is None
    txt = tmp_path / "concepts.txt"
    txt.write_text("zebra\n# a comment\n\nyellow school bus\n")
    assert [(b.id, b.item.positives) for b in iter_items(txt) if b.item] == [
        ("zebra", ["zebra"]),
        ("yellow school bus", ["yellow school bus"]),
    ]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"id": "a", "positives": ["cat"]}\n{"id": "a", "positives": ["dog"]}\n', "duplicate id"),
        ('{"positives": ["cat"]}\n', "no id"),
        ('{"id": "a", "positives": []}\n', "items.jsonl:1"),
        ('{"id": "a", "positives": ["cat"]}\nnot json\n', "items.jsonl:2"),
    ],
)
def test_bad_input_names_the_record(tmp_path: Path, text: str, needle: str):
    src = tmp_path / "items.jsonl"
    src.write_text(text)
    with pytest.raises(BatchInputError, match=needle):
        list(iter_items(src))
