"""Mined negatives (the JSON Lines ``hardneg batch`` writes) in the formats trainers read.

- ``saco``: the SA-Co benchmark layout (COCO-style; one ``images`` entry per image-phrase pair
  with its phrase in ``text_input``; negatives have no annotations; positives keep the boxes and
  masks of the ``dataset`` when one is given). hardneg's provenance sits in an extra ``hardneg``
  field that COCO readers ignore.
- ``owlvit``: one JSON line per image with ``positive_labels``, ``negative_text_labels`` and
  ``not_exhaustive_labels`` (OWL-ViT / scenic-style federated negatives).
- ``lvis``: the LVIS file itself, with mined negatives that are LVIS categories (by name or
  synonym) added to each image's ``neg_category_ids``.
- ``jsonl`` / ``parquet``: one row per (image, negative) with kind, sources and score.

Readers stream the records; only ``saco`` and ``lvis`` hold their output (a COCO file is one
JSON document). pycocotools and pyarrow load lazily.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hardneg.miners.knowledge.normalize import match_key

__all__ = ["EXPORTS", "ExportError", "export", "negative_rows", "read_records"]

ROW_FIELDS = ("image_id", "file_name", "positive", "negative", "kind", "score", "sources")


class ExportError(ValueError):
    """The records or the dataset cannot be exported; the message says which line or field."""


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a batch output, in order (blank lines skipped; a bad line is an error)."""
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict) or "id" not in rec or "negatives" not in rec:
                    raise ValueError("expected a record with 'id' and 'negatives'")
            except ValueError as exc:
                raise ExportError(f"{path}:{n}: {exc}") from None
            yield rec


def negative_rows(path: Path) -> Iterator[dict[str, Any]]:
    """One row per (image, negative), with the negative's provenance."""
    for rec in read_records(path):
        meta = rec.get("meta", {})
        for neg in rec["negatives"]:
            yield {
                "image_id": str(rec["id"]),
                "file_name": meta.get("file_name"),
                "positive": neg.get("for_positive", ""),
                "negative": neg["phrase"],
                "kind": neg.get("kind", "other"),
                "score": float(neg.get("score", 0.0)),
                "sources": list(neg.get("sources", [])),
            }


def to_jsonl(records: Path, output: Path, dataset: Path | None = None) -> int:
    n = 0
    with output.open("w", encoding="utf-8") as fh:
        for row in negative_rows(records):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def to_parquet(records: Path, output: Path, dataset: Path | None = None, rows: int = 50_000) -> int:
    """Parquet, written in row groups of ``rows`` (memory bounded by one group)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("image_id", pa.string()),
            ("file_name", pa.string()),
            ("positive", pa.string()),
            ("negative", pa.string()),
            ("kind", pa.string()),
            ("score", pa.float32()),
            ("sources", pa.list_(pa.string())),
        ]
    )
    n = 0
    with pq.ParquetWriter(output, schema) as writer:
        group: list[dict[str, Any]] = []
        for row in negative_rows(records):
            group.append(row)
            if len(group) >= rows:
                writer.write_table(pa.Table.from_pylist(group, schema=schema))
                n, group = n + len(group), []
        if group or n == 0:
            writer.write_table(pa.Table.from_pylist(group, schema=schema))
            n += len(group)
    return n


def to_owlvit(records: Path, output: Path, dataset: Path | None = None) -> int:
    n = 0
    with output.open("w", encoding="utf-8") as fh:
        for rec in read_records(records):
            meta = rec.get("meta", {})
            negs = rec["negatives"]
            row = {
                "image_id": str(rec["id"]),
                "file_name": meta.get("file_name"),
                "positive_labels": rec.get("positives", []),
                "negative_text_labels": [x["phrase"] for x in negs],
                "not_exhaustive_labels": meta.get("not_exhaustive", []),
                "hardneg": [_provenance(x) for x in negs],
            }
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def _provenance(neg: dict[str, Any]) -> dict[str, Any]:
    return {
        "positive": neg.get("for_positive", ""),
        "kind": neg.get("kind", "other"),
        "sources": neg.get("sources", []),
        "score": neg.get("score"),
    }


def _load_json(path: Path | None, what: str) -> dict[str, Any]:
    if path is None:
        raise ExportError(f"the {what} export needs --dataset (the batch's input file)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ExportError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ExportError(f"{path}: expected a COCO/LVIS file with 'images'")
    return data


def to_lvis(records: Path, output: Path, dataset: Path | None = None) -> int:
    """The LVIS file with mined negatives that are its own categories added to
    ``neg_category_ids`` (never a category annotated or not exhaustive on that image)."""
    data = _load_json(dataset, "lvis")
    by_key: dict[str, int] = {}
    for c in data.get("categories", []):
        for name in [c["name"], *c.get("synonyms", [])]:
            by_key.setdefault(match_key(str(name).replace("_", " ")), c["id"])
    shown: dict[str, set[int]] = {}
    for a in data.get("annotations", []):
        shown.setdefault(str(a["image_id"]), set()).add(a["category_id"])
    mined = {str(r["id"]): r["negatives"] for r in read_records(records)}
    added = 0
    for img in data["images"]:
        negs = mined.get(str(img["id"]), [])
        blocked = shown.get(str(img["id"]), set()) | set(img.get("not_exhaustive_category_ids", []))
        ids = list(img.get("neg_category_ids", []))
        for neg in negs:
            cid = by_key.get(match_key(neg["phrase"]))
            if cid is not None and cid not in blocked and cid not in ids:
                ids.append(cid)
                added += 1
        img["neg_category_ids"] = ids
    output.write_text(json.dumps(data), encoding="utf-8")
    return added


def to_saco(records: Path, output: Path, dataset: Path | None = None) -> int:
    """SA-Co layout; with ``dataset``, positives keep its boxes/masks as annotations."""
    instances = _instances(dataset) if dataset is not None else {}
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    for rec in read_records(records):
        meta, image_id = rec.get("meta", {}), str(rec["id"])
        base = {"file_name": meta.get("file_name", image_id)}
        base |= {k: meta[k] for k in ("width", "height") if k in meta}
        for phrase in rec.get("positives", []):
            pair = len(images) + 1
            images.append({"id": pair, **base, "text_input": phrase, "original_img_id": image_id})
            for box, seg, crowd in instances.get((image_id, match_key(phrase)), []):
                ann = {"id": len(anns) + 1, "image_id": pair, "category_id": 1, "bbox": box,
                       "area": box[2] * box[3], "iscrowd": int(crowd)}  # fmt: skip
                if seg is not None:
                    ann["segmentation"] = seg
                anns.append(ann)
        for neg in rec["negatives"]:
            images.append({"id": len(images) + 1, **base, "text_input": neg["phrase"],
                           "original_img_id": image_id, "hardneg": _provenance(neg)})  # fmt: skip
    doc = {
        "info": {"description": "hardneg: positives and mined hard negatives (SA-Co layout)"},
        "images": images,
        "annotations": anns,
        "categories": [{"id": 1, "name": "object"}],
    }
    output.write_text(json.dumps(doc), encoding="utf-8")
    return len(images)


def _instances(dataset: Path) -> dict[tuple[str, str], list[tuple[list[float], Any, bool]]]:
    """(image id, match_key of phrase) -> the dataset's instances (box, segmentation, crowd)."""
    from hardneg.miners.false_positive.ingest import IngestError
    from hardneg.miners.verify.export import read_dataset

    try:
        data = read_dataset(dataset)
    except IngestError as exc:
        raise ExportError(str(exc)) from None
    out: dict[tuple[str, str], list[tuple[list[float], Any, bool]]] = {}
    for image_id, info in data.items():
        for inst in info.instances:
            key = (image_id, match_key(inst.phrase))
            out.setdefault(key, []).append((list(inst.bbox), inst.rle, inst.iscrowd))
    return out


EXPORTS: dict[str, Callable[[Path, Path, Path | None], int]] = {
    "saco": to_saco,
    "owlvit": to_owlvit,
    "lvis": to_lvis,
    "jsonl": to_jsonl,
    "parquet": to_parquet,
}


def export(fmt: str, records: Path, output: Path, dataset: Path | None = None) -> int:
    """Write ``records`` as ``fmt`` to ``output``; returns the rows (or ids, for lvis) written.
    Refuses an output that is one of its inputs (it would be truncated before it is read)."""
    if fmt not in EXPORTS:
        raise ExportError(f"unknown format {fmt!r}; one of {', '.join(EXPORTS)}")
    if not records.is_file():
        raise ExportError(f"{records}: no such file")
    for src in (records, dataset):
        if src is not None and output.exists() and output.resolve() == src.resolve():
            raise ExportError(f"{output} is an input of this export: write elsewhere")
    return EXPORTS[fmt](records, output, dataset)
