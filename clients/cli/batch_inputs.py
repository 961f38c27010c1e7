"""What ``hardneg batch`` reads: one :class:`BatchItem` per image (or concept), streamed.

Formats, told apart by suffix and content (docs/batch.md has an example of each):

- JSON Lines (``.jsonl``): one request item a line, ``{"id", "positives", "present", "exclude"}``;
  ``file_name``, ``width`` and ``height`` may ride along and are kept for the exports.
- COCO / LVIS annotation file (``.json`` with ``images``/``categories``): one item per image whose
  positives are its annotated categories. LVIS ``not_exhaustive_category_ids`` are present
  concepts (never negatives); ``neg_category_ids`` (verified absent) are kept for the exports.
- SA-Co-style image–phrase file (``.json`` whose ``images`` carry ``text_input``): one item per
  image file; phrases with annotations are positives, phrases without are verified negatives.
- A plain list of concepts (``.txt``): one concept a line; its id is the concept.

An image with nothing to mine (no annotations) still gives an item, with a note, so its record
says why it has no negatives instead of being silently missing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hardneg.miners.types import RequestItem

META_KEYS = ("file_name", "width", "height")


class BatchInputError(ValueError):
    """The input file cannot be read as items; the message names the first bad record."""


@dataclass
class BatchItem:
    """One unit of a batch: the request item (None when there is nothing to mine), its id,
    what the exports need to know about its image, and a note when it cannot be mined."""

    id: str
    item: RequestItem | None
    meta: dict[str, Any] = field(default_factory=dict)
    note: str | None = None


def _jsonl_items(path: Path) -> Iterator[BatchItem]:
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                meta = {k: raw.pop(k) for k in META_KEYS if isinstance(raw, dict) and k in raw}
                item = RequestItem.model_validate(raw)
            except ValueError as exc:
                raise BatchInputError(f"{path}:{n}: {_why(exc)}") from None
            yield BatchItem(item.id, item, meta)


def _why(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{first['msg']} at {first['loc']}"
    return f"not JSON ({exc})"


def _phrase(name: str) -> str:
    return str(name).replace("_", " ")


def _coco_items(path: Path, data: dict[str, Any]) -> Iterator[BatchItem]:
    """One item per image of a COCO/LVIS file: its annotated categories are the positives."""
    try:
        names = {c["id"]: _phrase(c["name"]) for c in data["categories"]}
        per_image: dict[Any, list[str]] = {img["id"]: [] for img in data["images"]}
        for ann in data.get("annotations", []):
            per_image[ann["image_id"]].append(names[ann["category_id"]])
        images = [(img, per_image[img["id"]]) for img in data["images"]]
    except (KeyError, TypeError) as exc:
        raise BatchInputError(f"{path}: not a COCO/LVIS annotation file ({exc!r})") from None
    for img, found in images:
        positives = list(dict.fromkeys(found))
        meta = {k: img[k] for k in META_KEYS if k in img}
        try:
            unsure = [names[c] for c in img.get("not_exhaustive_category_ids", [])]
            verified = [names[c] for c in img.get("neg_category_ids", [])]
        except KeyError as exc:
            raise BatchInputError(f"{path}: image {img['id']}: unknown category {exc}") from None
        if unsure:
            meta["not_exhaustive"] = unsure
        if verified:
            meta["verified_negatives"] = verified
        yield _item(str(img["id"]), positives, [p for p in unsure if p not in positives], meta)


def _saco_items(path: Path, data: dict[str, Any]) -> Iterator[BatchItem]:
    """SA-Co layout: each ``images`` entry is an (image, phrase) pair; grouped per image file."""
    try:
        annotated = {a["image_id"] for a in data.get("annotations", [])}
        groups: dict[str, dict[str, Any]] = {}
        for pair in data["images"]:
            g = groups.setdefault(str(pair["file_name"]), {"pos": [], "neg": [], "meta": {}})
            g["meta"] = {k: pair[k] for k in META_KEYS if k in pair}
            g["pos" if pair["id"] in annotated else "neg"].append(str(pair["text_input"]))
    except (KeyError, TypeError) as exc:
        raise BatchInputError(f"{path}: not an SA-Co image-phrase file ({exc!r})") from None
    for file_name, g in groups.items():
        meta = dict(g["meta"])
        if g["neg"]:
            meta["verified_negatives"] = list(dict.fromkeys(g["neg"]))
        yield _item(file_name, list(dict.fromkeys(g["pos"])), [], meta)


def _item(
    item_id: str, positives: list[str], present: list[str], meta: dict[str, Any]
) -> BatchItem:
    if not positives:
        return BatchItem(item_id, None, meta, "no annotations: nothing to mine negatives for")
    try:
        item = RequestItem(id=item_id, positives=positives, present=present)
    except ValidationError as exc:
        raise BatchInputError(f"image {item_id}: {_why(exc)}") from None
    return BatchItem(item_id, item, meta)


def _concepts(path: Path) -> Iterator[BatchItem]:
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            concept = line.strip()
            if not concept or concept.startswith("#"):
                continue
            try:
                item = RequestItem(id=concept, positives=[concept])
            except ValidationError as exc:
                raise BatchInputError(f"{path}:{n}: {_why(exc)}") from None
            yield BatchItem(concept, item)


@lru_cache(maxsize=1)
def _load(path: Path, mtime_ns: int, size: int) -> Any:
    """A .json input parsed once per version of the file (a run reads its items a few times:
    to plan the resume, then to mine)."""
    return json.loads(path.read_text(encoding="utf-8"))


def _json_items(path: Path) -> Iterator[BatchItem]:
    st = path.stat()
    try:
        data = _load(path, st.st_mtime_ns, st.st_size)
    except ValueError as exc:
        raise BatchInputError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise BatchInputError(f"{path}: expected a COCO/LVIS or SA-Co file with 'images'")
    if data["images"] and isinstance(data["images"][0], dict) and "text_input" in data["images"][0]:
        return _saco_items(path, data)
    return _coco_items(path, data)


def iter_items(path: Path) -> Iterator[BatchItem]:
    """The items of ``path`` in file order, each checked: a unique, non-empty id."""
    if path.suffix == ".json":
        source = _json_items(path)
    elif path.suffix == ".txt":
        source = _concepts(path)
    else:
        source = _jsonl_items(path)
    seen: set[str] = set()
    for n, bi in enumerate(source, 1):
        if not bi.id:
            raise BatchInputError(f"{path}: item {n} has no id (needed to resume a run)")
        if bi.id in seen:
            raise BatchInputError(f"{path}: duplicate id {bi.id!r} (item {n})")
        seen.add(bi.id)
        yield bi
