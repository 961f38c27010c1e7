"""``/v1/verdicts`` (write one or a batch, read by item or positive, delete, export as JSONL) and
``GET /v1/stats`` (acceptance rates per miner and kind). The store is ``app.state.verdict_store``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Discriminator, Field, Tag

from hardneg.miners.errors import DependencyDown
from hardneg.miners.types import ErrorResponse
from hardneg.miners.verdicts import (
    Verdict,
    VerdictBatch,
    VerdictList,
    VerdictWrite,
)
from hardneg.service.access import WriteAccess
from hardneg.service.auth import require_read
from hardneg.service.body import StrictJSONRoute
from hardneg.service.errors import BadRequest, NotFound, declared
from hardneg.service.verdicts.stats import StatsResponse, acceptance_report, export_lines
from hardneg.service.verdicts.store import VerdictStore

router = APIRouter(tags=["verdicts"], route_class=StrictJSONRoute)

ERRORS: dict[int | str, dict[str, Any]] = {
    **declared(401, 403, 413),
    422: {"model": ErrorResponse, "description": "Invalid verdict (says what is wrong)"},
    503: {"model": ErrorResponse, "description": "Verdict store unavailable: nothing stored"},
}


def get_verdict_store(request: Request) -> VerdictStore:
    """The process's one verdict store (made in the app's lifespan)."""
    store: VerdictStore | None = getattr(request.app.state, "verdict_store", None)
    if store is None:
        raise DependencyDown("no verdict store configured")
    return store


StoreDep = Annotated[VerdictStore, Depends(get_verdict_store)]


def _shape(body: Any) -> str:
    return "batch" if isinstance(body, dict) and "verdicts" in body else "verdict"


VerdictBody = Annotated[
    Annotated[Verdict, Tag("verdict")] | Annotated[VerdictBatch, Tag("batch")],
    Discriminator(_shape),
]


@router.post("/v1/verdicts", response_model=VerdictWrite, responses=ERRORS)
async def post_verdicts(body: VerdictBody, store: StoreDep, _: WriteAccess) -> VerdictWrite:
    """Store one verdict or a batch (``{"verdicts": [...]}``, one transaction). Idempotent by
    ``id``; the answer comes once every verdict is on disk, so a 200 is never lost."""
    verdicts = body.verdicts if isinstance(body, VerdictBatch) else [body]
    return await store.write(verdicts)


@router.get(
    "/v1/verdicts", response_model=VerdictList, responses=ERRORS, dependencies=[require_read]
)
async def get_verdicts(
    store: StoreDep,
    item_id: Annotated[str | None, Query(description="Verdicts on this item")] = None,
    positive: Annotated[str | None, Query(description="Verdicts for this positive")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> VerdictList:
    """Verdicts on one item, or for one positive (phrases compared by their match key)."""
    if (item_id is None) == (positive is None):
        raise BadRequest("give exactly one of item_id and positive")
    if item_id is not None:
        return VerdictList(verdicts=await store.by_item(item_id, limit))
    return VerdictList(verdicts=await store.by_positive(str(positive), limit))


class Deleted(BaseModel):
    deleted: bool = Field(description="True: the verdict was removed.")


@router.delete("/v1/verdicts/{verdict_id}", response_model=Deleted, responses=ERRORS)
async def delete_verdict(verdict_id: str, store: StoreDep, _: WriteAccess) -> Deleted:
    if not await store.delete(verdict_id):
        raise NotFound(f"no verdict with id {verdict_id!r}")
    return Deleted(deleted=True)


@router.get(
    "/v1/verdicts/export",
    responses=ERRORS,
    response_class=StreamingResponse,
    dependencies=[require_read],
)
async def export_verdicts(
    store: StoreDep,
    since: Annotated[int, Query(ge=0, description="Only verdicts with seq above this")] = 0,
) -> StreamingResponse:
    """JSONL for training a verifier or refitting the ranking: one verdict a line with positive,
    phrase, verdict, label (1 absent, 0 rejected, null unsure), miner sources, kind, item id and
    seq (pass the last seq as ``since`` to resume)."""
    await store.export(since, 1)  # a store that is down fails here, as a 503, not mid-stream
    return StreamingResponse(export_lines(store, since), media_type="application/x-ndjson")


@router.get(
    "/v1/stats", response_model=StatsResponse, responses=ERRORS, dependencies=[require_read]
)
async def stats(store: StoreDep) -> StatsResponse:
    """Verdict counts and acceptance rates (absent / judged, unsure left out) per miner and kind."""
    return acceptance_report(await store.stats())


__all__ = ["StoreDep", "get_verdict_store", "router"]
