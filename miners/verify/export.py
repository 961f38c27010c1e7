"""Build a round's (image, phrase) queries from a dataset and its mined negatives, and write them.

Dataset: COCO / LVIS JSON (images, annotations with ``bbox`` and optional ``segmentation``,
categories) or JSON Lines, one image a line: ``{"id", "file_name", "width", "height",
"instances": [{"phrase", "bbox", "segmentation", "iscrowd"}]}``. Candidates: the JSON Lines
``hardneg batch`` writes (one answered item a line: ``id`` = image id, ``negatives``).

Outputs: a COCO-style file in the SA-Co benchmark layout (facebookresearch/sam3,
``scripts/eval/gold/README.md``: each ``images`` entry is one image-phrase pair with its phrase in
``text_input``; no ``annotations``, as every query is a proposed negative), and the same queries
as JSON Lines. Query ids are the ``images`` ids; a detector's COCO results refer to them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hardneg.miners.false_positive.ingest import IngestError, phrase_of
from hardneg.miners.knowledge.normalize import match_key
from hardneg.miners.verify.outcome import Instance, to_rle
from hardneg.miners.verify.records import Query

__all__ = ["Dataset", "ImageInfo", "build_queries", "read_dataset", "write_coco", "write_jsonl"]


@dataclass
class ImageInfo:
    id: str
    file_name: str
    width: int | None = None
    height: int | None = None
    instances: list[Instance] = field(default_factory=list)


Dataset = dict[str, ImageInfo]


def _box(v: Any, where: str) -> tuple[float, float, float, float]:
    if not (isinstance(v, list) and len(v) == 4 and all(type(x) in (int, float) for x in v)):
        raise IngestError("dataset", [f"{where}.bbox: expected [x, y, width, height]"])
    return (float(v[0]), float(v[1]), float(v[2]), float(v[3]))


def _coco(data: dict[str, Any]) -> Dataset:
    try:
        names = {c["id"]: phrase_of(str(c["name"])) for c in data.get("categories", [])}
        out = {
            str(im["id"]): ImageInfo(
                str(im["id"]), str(im.get("file_name", im["id"])), im.get("width"), im.get("height")
            )
            for im in data["images"]
        }
        for i, a in enumerate(data.get("annotations", [])):
            info = out[str(a["image_id"])]
            rle = to_rle(a.get("segmentation"), info.height, info.width)
            phrase = names[a["category_id"]] if "category_id" in a else str(a["phrase"])
            box = _box(a.get("bbox"), f"annotations[{i}]")
            info.instances.append(Instance(phrase, box, rle, a.get("iscrowd", 0) == 1))
    except (KeyError, TypeError, ValueError) as exc:
        raise IngestError(
            "dataset", [f"not a COCO/LVIS file: {type(exc).__name__}: {exc}"]
        ) from None
    return out


def _jsonl(lines: Iterator[str]) -> Dataset:
    out: Dataset = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            info = ImageInfo(
                str(r["id"]), str(r.get("file_name", r["id"])), r.get("width"), r.get("height")
            )
            for j, inst in enumerate(r.get("instances", [])):
                rle = to_rle(inst.get("segmentation"), info.height, info.width)
                box = _box(inst.get("bbox"), f"line {n}: instances[{j}]")
                info.instances.append(
                    Instance(str(inst["phrase"]), box, rle, bool(inst.get("iscrowd")))
                )
        except (KeyError, TypeError, ValueError) as exc:
            raise IngestError("dataset", [f"line {n}: {type(exc).__name__}: {exc}"]) from None
        out[info.id] = info
    return out


def read_dataset(path: Path) -> Dataset:
    """Images with the positives' instances, from COCO/LVIS JSON or JSON Lines."""
    try:
        if path.suffix == ".json":
            return _coco(json.loads(path.read_text(encoding="utf-8")))
        with path.open(encoding="utf-8") as fh:
            return _jsonl(iter(fh))
    except OSError as exc:
        raise IngestError("dataset", [f"cannot read {path}: {exc.strerror or exc}"]) from None
    except json.JSONDecodeError as exc:
        raise IngestError("dataset", [f"malformed JSON: {exc.msg} at line {exc.lineno}"]) from None


def build_queries(dataset: Dataset, candidates: Path) -> list[Query]:
    """One query per (image, phrase) among the mined negatives, ids 1, 2, ... in file order;
    a phrase mined for several positives of one image is asked once (sources merged)."""
    queries: dict[tuple[str, str], Query] = {}
    unknown: list[str] = []
    try:
        with candidates.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                    image_id, negatives = str(item["id"]), item["negatives"]
                    if image_id not in dataset:
                        unknown.append(f"line {n}: image id {image_id!r} is not in the dataset")
                        continue
                    for neg in negatives:
                        _add(queries, image_id, neg)
                except (KeyError, TypeError, ValueError) as exc:
                    raise IngestError(
                        "candidates", [f"line {n}: {type(exc).__name__}: {exc}"]
                    ) from None
    except OSError as exc:
        raise IngestError(
            "candidates", [f"cannot read {candidates}: {exc.strerror or exc}"]
        ) from None
    if unknown:
        raise IngestError("candidates", unknown[:5], len(unknown))
    return list(queries.values())


def _add(queries: dict[tuple[str, str], Query], image_id: str, neg: dict[str, Any]) -> None:
    key = (image_id, match_key(neg["phrase"]))
    q = queries.get(key)
    if q is None:
        queries[key] = Query(
            id=len(queries) + 1,
            image_id=image_id,
            phrase=str(neg["phrase"]),
            positive=str(neg.get("for_positive", "")),
            sources=sorted(neg.get("sources", [])),
            kind=str(neg.get("kind", "other")),
        )
    else:
        q.sources = sorted({*q.sources, *neg.get("sources", [])})


def write_coco(path: Path, round_name: str, queries: list[Query], dataset: Dataset) -> None:
    """The SA-Co layout: one ``images`` entry per image-phrase pair, phrase in ``text_input``."""
    images = []
    for q in queries:
        info = dataset[q.image_id]
        entry: dict[str, Any] = {"id": q.id, "file_name": info.file_name, "text_input": q.phrase}
        if info.width and info.height:
            entry |= {"width": info.width, "height": info.height}
        entry["hardneg"] = {
            "image_id": q.image_id,
            "positive": q.positive,
            "sources": q.sources,
            "kind": q.kind,
        }
        images.append(entry)
    doc = {
        "info": {"description": f"hardneg verification queries, round {round_name}"},
        "images": images,
        "annotations": [],  # every pair is a proposed negative: no instance is claimed
        "categories": [{"id": 1, "name": "object"}],
    }
    path.write_text(json.dumps(doc), encoding="utf-8")


def write_jsonl(path: Path, queries: list[Query], dataset: Dataset) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for q in queries:
            info = dataset[q.image_id]
            row = {"query_id": q.id, "file_name": info.file_name, **q.model_dump(exclude={"id"})}
            fh.write(json.dumps(row) + "\n")
