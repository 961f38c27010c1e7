"""``GET /review``: one item of the review queue (``HARDNEG_REVIEW_ITEMS``, a JSONL file) or one
ad-hoc item (``?positive=...&item_id=...&image=...``), with its negatives and verdict buttons.
The buttons post to ``/v1/verdicts`` (which checks write access)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from hardneg.miners.knowledge.normalize import match_key
from hardneg.miners.types import NegativesRequest, RequestItem, describe_errors
from hardneg.service.errors import BadRequest, NotFound
from hardneg.service.pipeline import Pipeline
from hardneg.service.review.page import ReviewItem, render
from hardneg.service.verdicts.routes import StoreDep

router = APIRouter(tags=["review"])
_queues: dict[Path, tuple[float, list[tuple[RequestItem, str | None]]]] = {}


def _pipeline(request: Request) -> Pipeline:
    pipeline: Pipeline = request.app.state.pipeline
    return pipeline


def _entry(raw: dict[str, Any], where: str) -> tuple[RequestItem, str | None]:
    image = raw.pop("image", None)
    try:
        return RequestItem.model_validate(raw), (str(image) if image else None)
    except ValidationError as exc:
        raise BadRequest(f"{where}: {describe_errors(exc.errors())}") from exc


def load_queue(path: Path) -> list[tuple[RequestItem, str | None]]:
    """The items of a JSONL file (re-read when the file changes)."""
    try:
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise NotFound(f"review queue {path} cannot be read: {exc.strerror}") from exc
    cached = _queues.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                raw = json.loads(line)
            except ValueError as exc:
                raise BadRequest(f"{path}:{n}: not JSON ({exc})") from exc
            items.append(_entry(raw, f"{path}:{n}"))
    _queues[path] = (mtime, items)
    return items


@router.get("/review", response_class=HTMLResponse, summary="Review page (HTML)")
async def review(
    request: Request,
    store: StoreDep,
    pipeline: Annotated[Pipeline, Depends(_pipeline)],
    i: Annotated[int, Query(ge=0, description="Position in the review queue")] = 0,
    annotator: Annotated[str, Query(min_length=1, max_length=100)] = "reviewer",
    positive: Annotated[str | None, Query(description="Review one ad-hoc item")] = None,
    item_id: str = "",
    image: str | None = None,
) -> HTMLResponse:
    settings = request.app.state.settings
    if positive is not None:
        queue = [
            _entry(
                {
                    "id": item_id or f"adhoc:{match_key(positive)}",
                    "positives": [positive],
                    "image": image,
                },
                "query",
            )
        ]
    elif settings.review_items is not None:
        queue = load_queue(Path(settings.review_items))
    else:
        raise NotFound("no review queue: set HARDNEG_REVIEW_ITEMS or open /review?positive=...")
    if i >= len(queue):
        raise NotFound(f"the review queue has {len(queue)} items; there is no item {i}")
    item, image_url = queue[i]
    # mined as an anonymous item: this item's own verdicts must not hide what is being judged
    anonymous = item.model_copy(update={"id": ""})
    request_ = NegativesRequest(items=[anonymous], k=settings.review_k)
    negatives = (await pipeline.mine(request_)).items[0].negatives
    mine = [v for v in await store.by_item(item.id, 10_000) if v.annotator == annotator]
    judged = {match_key(v.negative): v.verdict.value for v in mine}
    page = ReviewItem(
        i, len(queue), item.id, list(item.positives), image_url, negatives, judged, annotator
    )
    base = str(request.url.remove_query_params(list(request.query_params)))
    return HTMLResponse(render(page, base, str(request.url_for("post_verdicts"))))
