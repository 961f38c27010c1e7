"""Regenerate negatives for a whole dataset: items in, one JSON line per answered item out.

Input is JSON Lines (one request item per line) or a COCO/LVIS annotation file (one item per
image: its categories are the positives). The run is resumable: items whose id is already in
the output are skipped, so a killed job picks up where it stopped. It calls the same pipeline as
the service (in-process) or a running service (``url``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hardneg.clients.cli.backends import open_backend
from hardneg.miners.types import MAX_ITEMS, MineOptions, NegativesRequest, RequestItem

Progress = Callable[[int, int], None]


class BatchInputError(ValueError):
    """The input file cannot be read as items; the message names the first bad record."""


@dataclass
class BatchReport:
    total: int
    skipped: int
    written: int
    degraded: int


def _jsonl_items(path: Path) -> Iterator[RequestItem]:
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield RequestItem.model_validate_json(line)
            except ValidationError as exc:
                raise BatchInputError(
                    f"{path}:{n}: {exc.errors()[0]['msg']} at {exc.errors()[0]['loc']}"
                ) from exc


def _coco_items(path: Path) -> Iterator[RequestItem]:
    """One item per image of a COCO/LVIS file: its annotated categories are the positives."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        names = {c["id"]: str(c["name"]).replace("_", " ") for c in data["categories"]}
        per_image: dict[Any, set[str]] = {img["id"]: set() for img in data["images"]}
        for ann in data.get("annotations", []):
            per_image[ann["image_id"]].add(names[ann["category_id"]])
    except (ValueError, KeyError, TypeError) as exc:
        raise BatchInputError(f"{path}: not a COCO/LVIS annotation file ({exc!r})") from exc
    for image_id, positives in per_image.items():
        if positives:
            yield RequestItem(id=str(image_id), positives=sorted(positives))


def read_items(path: Path) -> list[RequestItem]:
    """All items of ``path``, checked: every item needs a unique, non-empty id."""
    items = list(_coco_items(path) if path.suffix == ".json" else _jsonl_items(path))
    seen: set[str] = set()
    for n, item in enumerate(items, 1):
        if not item.id:
            raise BatchInputError(f"{path}: item {n} has no id (needed to resume a run)")
        if item.id in seen:
            raise BatchInputError(f"{path}: duplicate id {item.id!r} (item {n})")
        seen.add(item.id)
    return items


def drop_torn_tail(output: Path) -> None:
    """A killed run can leave half a line at the end: cut it so appended lines stay whole."""
    if not output.exists():
        return
    with output.open("rb+") as fh:
        data = fh.read()
        if data and not data.endswith(b"\n"):
            fh.truncate(data.rfind(b"\n") + 1)


def done_ids(output: Path) -> set[str]:
    """Ids already answered in ``output`` (unreadable lines are ignored and redone)."""
    if not output.exists():
        return set()
    ids: set[str] = set()
    with output.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                ids.add(str(json.loads(line)["id"]))
            except (ValueError, KeyError, TypeError):
                continue
    return ids


async def run_batch(
    source: Path,
    output: Path,
    options: MineOptions,
    *,
    url: str | None = None,
    chunk: int = 256,
    progress: Progress | None = None,
    api_key: str | None = None,
) -> BatchReport:
    """Answer every item of ``source`` not yet in ``output``, ``chunk`` items per request."""
    items = read_items(source)
    drop_torn_tail(output)
    done = done_ids(output)
    todo = [it for it in items if it.id not in done]
    backend = await open_backend(url, options=options, timeout_s=600, api_key=api_key)
    report = BatchReport(total=len(items), skipped=len(items) - len(todo), written=0, degraded=0)
    chunk = max(1, min(chunk, MAX_ITEMS))
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        with output.open("a", encoding="utf-8") as out:
            for start in range(0, len(todo), chunk):
                req = NegativesRequest(items=todo[start : start + chunk], **options.model_dump())
                resp = await backend.negatives(req)
                for result in resp.items:
                    out.write(result.model_dump_json() + "\n")
                    report.degraded += result.degraded
                out.flush()
                report.written += len(resp.items)
                if progress is not None:
                    progress(report.written, len(todo))
    finally:
        await backend.aclose()
    return report
