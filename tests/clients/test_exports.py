"""Exports a trainer reads, from a real batch run: SA-Co (loaded by pycocotools), OWL-ViT, LVIS
``neg_category_ids``, JSON Lines and Parquet (read back with pyarrow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hardneg.clients.exports import EXPORTS, ExportError, export, to_jsonl
from hardneg.miners.knowledge import match_key
from hardneg.miners.types import MineOptions

DATA = Path("/work/shared/data")


@pytest.fixture
async def mined(tmp_path: Path, in_process) -> tuple[Path, Path]:
    """An LVIS-style file (LVIS categories, boxes and one mask) and its batch records."""
    from hardneg.clients.cli.batch import run_batch

    raw = json.loads((DATA / "lvis_v1_categories.json").read_text())
    cats = raw["categories"] if isinstance(raw, dict) else raw
    wanted = {"dog", "bus_(vehicle)", "bicycle", "teapot", "violin", "zebra"}
    picked = [c for c in cats if c["name"] in wanted]
    cid = {c["name"]: c["id"] for c in picked}
    square = [[2.0, 2.0, 12.0, 2.0, 12.0, 12.0, 2.0, 12.0]]
    data = {
        "images": [
            {
                "id": 1,
                "file_name": "1.jpg",
                "width": 32,
                "height": 24,
                "neg_category_ids": [],
                "not_exhaustive_category_ids": [cid["bicycle"]],
            },
            {"id": 2, "file_name": "2.jpg", "width": 32, "height": 24},
            {"id": 3, "file_name": "3.jpg", "width": 32, "height": 24},
        ],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": cid["dog"],
                "bbox": [2, 2, 10, 10],
                "segmentation": square,
                "area": 100,
                "iscrowd": 0,
            },
            {"id": 2, "image_id": 1, "category_id": cid["bicycle"], "bbox": [0, 0, 5, 5]},
            {"id": 3, "image_id": 2, "category_id": cid["bus_(vehicle)"], "bbox": [1, 1, 4, 4]},
        ],
        "categories": cats,
    }
    src = tmp_path / "lvis.json"
    src.write_text(json.dumps(data))
    out = tmp_path / "records.jsonl"
    await run_batch(src, out, MineOptions(k=20))
    return src, out


def _records(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


async def test_saco_export_loads_with_pycocotools(mined, tmp_path: Path):
    from pycocotools.coco import COCO

    src, records = mined
    out = tmp_path / "saco.json"
    EXPORTS["saco"](records, out, src)
    coco = COCO(str(out))
    recs = _records(records)
    pairs = coco.loadImgs(coco.getImgIds())
    assert len(pairs) == sum(len(r["positives"]) + len(r["negatives"]) for r in recs)
    dog = [p for p in pairs if p["original_img_id"] == "1" and p["text_input"] == "dog"]
    assert len(dog) == 1 and "hardneg" not in dog[0]
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[dog[0]["id"]]))
    assert [a["bbox"] for a in anns] == [[2.0, 2.0, 10.0, 10.0]]
    assert coco.annToMask(anns[0]).sum() > 0  # the mask came along, readable
    negatives = [p for p in pairs if "hardneg" in p]
    assert negatives and all(not coco.getAnnIds(imgIds=[p["id"]]) for p in negatives)
    assert {"kind", "sources", "score", "positive"} <= negatives[0]["hardneg"].keys()
    assert sum(p["original_img_id"] == "3" for p in pairs) == 0  # nothing to mine, no pair


async def test_owlvit_export(mined, tmp_path: Path):
    _, records = mined
    out = tmp_path / "owl.jsonl"
    assert EXPORTS["owlvit"](records, out, None) == 3
    rows = {r["image_id"]: r for r in _records(out)}
    recs = {r["id"]: r for r in _records(records)}
    assert rows["1"]["positive_labels"] == ["dog", "bicycle"]
    assert rows["1"]["not_exhaustive_labels"] == ["bicycle"]
    assert rows["1"]["negative_text_labels"] == [n["phrase"] for n in recs["1"]["negatives"]]
    assert rows["3"]["negative_text_labels"] == []


async def test_lvis_export_adds_only_its_own_categories(mined, tmp_path: Path):
    src, records = mined
    out = tmp_path / "lvis_out.json"
    added = EXPORTS["lvis"](records, out, src)
    data = json.loads(out.read_text())
    names = {c["id"]: c for c in data["categories"]}
    recs = {r["id"]: r for r in _records(records)}
    assert added > 0
    total = 0
    for img in data["images"]:
        neg_ids = img["neg_category_ids"]
        total += len(neg_ids)
        shown = {a["category_id"] for a in data["annotations"] if a["image_id"] == img["id"]}
        assert not set(neg_ids) & (shown | set(img.get("not_exhaustive_category_ids", [])))
        mined_keys = {match_key(n["phrase"]) for n in recs[str(img["id"])]["negatives"]}
        for i in neg_ids:  # every added id is a mined negative, by name or synonym
            c = names[i]
            keys = {match_key(s.replace("_", " ")) for s in [c["name"], *c.get("synonyms", [])]}
            assert keys & mined_keys
    assert total == added
    with pytest.raises(ExportError, match="needs --dataset"):
        EXPORTS["lvis"](records, out, None)


async def test_jsonl_and_parquet_rows(mined, tmp_path: Path):
    import pyarrow.parquet as pq

    _, records = mined
    n = to_jsonl(records, tmp_path / "rows.jsonl")
    rows = _records(tmp_path / "rows.jsonl")
    assert n == len(rows) == sum(len(r["negatives"]) for r in _records(records))
    assert EXPORTS["parquet"](records, tmp_path / "rows.parquet", None) == n
    table = pq.read_table(tmp_path / "rows.parquet").to_pylist()
    assert [(r["image_id"], r["negative"], r["sources"]) for r in table] == [
        (r["image_id"], r["negative"], r["sources"]) for r in rows
    ]
    assert all(r["file_name"] == f"{r['image_id']}.jpg" for r in table)


def test_bad_records_name_the_line(tmp_path: Path):
    bad = tmp_path / "records.jsonl"
    bad.write_text('{"id": "1", "negatives": []}\n{"oops": 1}\n')
    with pytest.raises(ExportError, match=r"records\.jsonl:2"):
        to_jsonl(bad, tmp_path / "rows.jsonl")


def test_export_never_overwrites_its_input(tmp_path: Path):
    records = tmp_path / "records.jsonl"
    text = '{"id": "1", "negatives": [{"phrase": "taxi", "for_positive": "bus"}]}\n'
    records.write_text(text)
    with pytest.raises(ExportError, match="is an input"):
        export("jsonl", records, records)
    assert records.read_text() == text
    with pytest.raises(ExportError, match="unknown format"):
        export("csv", records, tmp_path / "x.csv")
    assert export("jsonl", records, tmp_path / "rows.jsonl") == 1
