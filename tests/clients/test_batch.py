"""Batch regeneration: JSONL and COCO input, resumable output, clear input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hardneg.clients.cli import batch
from hardneg.clients.cli.batch import BatchInputError, read_items, run_batch
from hardneg.miners.types import MineOptions
from hardneg.service.local import LocalBackend


@pytest.fixture
def in_process(monkeypatch, make_pipeline):
    """run_batch's in-process path, on the session's MiniLM pipeline."""
    pipe = make_pipeline()

    class Shared(LocalBackend):
        async def aclose(self) -> None:  # the session's pipeline outlives one batch run
            return None

    async def open_backend(url, **_):
        return Shared(pipe)

    monkeypatch.setattr(batch, "open_backend", open_backend)
    return pipe


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
    out.write_text(json.dumps({"id": "img-0", "negatives": []}) + "\n" + '{"id": "img-1", "neg')
    report = await run_batch(src, out, MineOptions(k=5), chunk=2)
    assert (report.total, report.skipped, report.written) == (5, 1, 4)
    lines = [json.loads(x) for x in out.read_text().splitlines()]  # the torn line was cut
    assert [x["id"] for x in lines] == ["img-0", "img-1", "img-2", "img-3", "img-4"]
    assert all(len(x["negatives"]) == 5 for x in lines[1:])
    again = await run_batch(src, out, MineOptions(k=5))
    assert again.written == 0 and again.skipped == 5


def test_coco_input_gives_one_item_per_image(tmp_path: Path):
    coco = {
        "images": [{"id": 1}, {"id": 2}, {"id": 3}],
        "categories": [{"id": 7, "name": "school_bus"}, {"id": 8, "name": "person"}],
        "annotations": [
            {"image_id": 1, "category_id": 7},
            {"image_id": 1, "category_id": 8},
            {"image_id": 2, "category_id": 8},
        ],
    }
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(coco))
    items = read_items(path)
    assert [(i.id, i.positives) for i in items] == [
        ("1", ["person", "school bus"]),
        ("2", ["person"]),
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
        read_items(src)
