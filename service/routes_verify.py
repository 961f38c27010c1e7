"""Verification rounds over HTTP: stats per round, ingest a detector's predictions, human checks.

``GET /v1/verify/rounds``, ``GET /v1/verify/rounds/{name}``, ``POST
/v1/verify/rounds/{name}/predictions``, ``GET /v1/verify/held`` and ``POST /v1/verify/checks``.
Export needs the dataset files and runs from the CLI (``hardneg verify export``). The store is
the process's one (``app.state.verify_store``), opened in the app's lifespan.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hardneg.miners.errors import DependencyDown
from hardneg.miners.false_positive.ingest import Source
from hardneg.miners.verify import OutcomeRecord, VerifyOptions, VerifyRound, VerifyStore
from hardneg.miners.verify.records import MAX_ROUND_CHARS, Verdict, VerifyIngestReport
from hardneg.miners.verify.store import open_verify_store
from hardneg.service.auth import require_read, require_write
from hardneg.service.body import StrictJSONRoute
from hardneg.service.errors import declared
from hardneg.service.routes_fp import OperatorDep, store_errors

router = APIRouter(tags=["verification"], route_class=StrictJSONRoute)
READ_ERRORS = declared(401, 403, 404, 422, 503)
WRITE_ERRORS = declared(401, 403, 404, 409, 413, 422, 429, 503, 504)


class PredictionsIngest(BaseModel):
    """A detector's COCO results on a round's queries: inline, or a path readable by the server."""

    model_config = ConfigDict(extra="forbid")

    predictions: list[Any] | None = Field(None, description="COCO results; image_id = query id.")
    predictions_path: str | None = Field(
        None,
        description="A file under the server's ingest root (HARDNEG_FP_INGEST_ROOT), instead.",
    )

    @model_validator(mode="after")
    def _one(self) -> PredictionsIngest:
        if (self.predictions is None) == (self.predictions_path is None):
            raise ValueError("send exactly one of predictions and predictions_path")
        return self


class Check(BaseModel):
    """A human's answer for a phrase that fired elsewhere on an image."""

    model_config = ConfigDict(extra="forbid")

    image_id: str = Field(min_length=1, max_length=MAX_ROUND_CHARS)
    phrase: str = Field(min_length=1, max_length=MAX_ROUND_CHARS)
    verdict: Verdict


class RoundsList(BaseModel):
    rounds: list[VerifyRound]


class HeldList(BaseModel):
    held: list[OutcomeRecord]


def get_verify_store(request: Request) -> VerifyStore:
    store: VerifyStore | None = getattr(request.app.state, "verify_store", None)
    if store is None:
        raise DependencyDown("no verification store configured")
    return store


StoreDep = Annotated[VerifyStore, Depends(get_verify_store)]


@router.get(
    "/v1/verify/rounds",
    response_model=RoundsList,
    responses=READ_ERRORS,
    dependencies=[require_read],
)
async def verify_rounds(store: StoreDep) -> RoundsList:
    """Every round, oldest first: queries, fooled / ignored / elsewhere, per miner and kind."""
    with store_errors("verification store"):
        return RoundsList(rounds=await store.rounds())


@router.get(
    "/v1/verify/rounds/{name}",
    response_model=VerifyRound,
    responses=READ_ERRORS,
    dependencies=[require_read],
)
async def verify_round(name: str, store: StoreDep) -> VerifyRound:
    with store_errors("verification store"):
        return await store.round(name)  # unknown: 404


@router.post(
    "/v1/verify/rounds/{name}/predictions",
    response_model=VerifyIngestReport,
    responses=WRITE_ERRORS,
    dependencies=[require_write],
)
async def verify_ingest(
    name: str, body: PredictionsIngest, store: StoreDep, operator: OperatorDep, request: Request
) -> VerifyIngestReport:
    """Decide every query of the round. Idempotent: the same predictions again answer
    ``already_ingested: true``; other predictions for an ingested round are a 409. A server
    path is read as the false-positive route reads one: only a regular file under the ingest
    root, capped and with a timeout (service/operator.py)."""
    s = request.app.state.settings
    opts = VerifyOptions(s.verify_score_threshold, s.verify_iou_threshold)
    source: Source
    if body.predictions is not None:
        source = body.predictions
    else:
        source = await operator.read("predictions_path", str(body.predictions_path))
    with store_errors("verification store"):
        return await store.ingest(name, source, opts)


@router.get(
    "/v1/verify/held", response_model=HeldList, responses=READ_ERRORS, dependencies=[require_read]
)
async def verify_held(
    store: StoreDep, limit: Annotated[int, Query(ge=1, le=10_000)] = 100
) -> HeldList:
    """Phrases that fired away from every positive and await a human check."""
    with store_errors("verification store"):
        return HeldList(held=await store.held(limit))


@router.post(
    "/v1/verify/checks",
    response_model=OutcomeRecord,
    responses=WRITE_ERRORS,
    dependencies=[require_write],
)
async def verify_check(body: Check, store: StoreDep) -> OutcomeRecord:
    """``absent`` releases a held phrase as a proven hard negative; ``present`` keeps it out."""
    with store_errors("verification store"):
        return await store.check(body.image_id, body.phrase, body.verdict)


def open_for(app: Any) -> None:
    """Open the process's verification store on ``app.state`` (the lifespan calls this)."""
    if getattr(app.state, "verify_store", None) is None:
        app.state.verify_store = open_verify_store(app.state.settings)


async def aclose(app: Any) -> None:
    store: VerifyStore | None = getattr(app.state, "verify_store", None)
    if store is not None:
        app.state.verify_store = None
        await store.aclose()
