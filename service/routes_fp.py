"""``POST /v1/false-positives`` (ingest a round) and ``GET /v1/false-positives/rounds``.

Ground truth and predictions come in the JSON body, or as paths readable by the server.
The store is the process's one (``app.state.fp_store``, the pipeline's in the service).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from redis.exceptions import RedisError

from hardneg.miners.errors import DependencyDown
from hardneg.miners.false_positive import (
    FPStore,
    IngestReport,
    MatchOptions,
    RoundStats,
    ingest_round,
)
from hardneg.miners.false_positive.ingest import Source
from hardneg.miners.false_positive.records import MAX_ROUND_CHARS

router = APIRouter(tags=["false positives"])


class FalsePositiveIngest(BaseModel):
    """One round's files: each of ground truth and predictions inline or as a server path."""

    model_config = ConfigDict(extra="forbid")

    round: str = Field(min_length=1, max_length=MAX_ROUND_CHARS, description="Model version.")
    ground_truth: dict[str, Any] | None = Field(None, description="COCO / LVIS ground truth.")
    predictions: list[Any] | None = Field(None, description="COCO results list.")
    ground_truth_path: str | None = Field(None, description="Path on the server, instead.")
    predictions_path: str | None = Field(None, description="Path on the server, instead.")

    @model_validator(mode="after")
    def _one_of_each(self) -> FalsePositiveIngest:
        for name in ("ground_truth", "predictions"):
            given = (getattr(self, name) is not None) + (getattr(self, f"{name}_path") is not None)
            if given != 1:
                raise ValueError(f"send exactly one of {name} and {name}_path")
        return self

    def sources(self) -> tuple[Source, Source]:
        gt = (
            self.ground_truth
            if self.ground_truth is not None
            else Path(str(self.ground_truth_path))
        )
        preds = (
            self.predictions if self.predictions is not None else Path(str(self.predictions_path))
        )
        return gt, preds


class RoundsResponse(BaseModel):
    rounds: list[RoundStats]
    version: str = Field(description="Data version of the confusion table.")


def get_fp_store(request: Request) -> FPStore:
    """The process's one confusion-table store (``app.state.fp_store``): the app's lifespan puts
    the pipeline's there, shared with the false-positive miner, so an ingest here changes the
    miner's version at once."""
    store: FPStore | None = getattr(request.app.state, "fp_store", None)
    if store is None:
        raise DependencyDown("no false-positive store configured")
    return store


FPStoreDep = Annotated[FPStore, Depends(get_fp_store)]


@contextmanager
def store_errors(what: str = "false-positive store") -> Iterator[None]:
    """A failing store says which store failed (the status comes from service/errors.py)."""
    try:
        yield
    except (RedisError, sqlite3.Error, OSError) as exc:
        raise DependencyDown(f"{what} unavailable: {exc}") from exc


@router.post("/v1/false-positives", response_model=IngestReport)
async def ingest_false_positives(
    body: FalsePositiveIngest, store: FPStoreDep, request: Request
) -> IngestReport:
    """Ingest one round's predictions; returns this file's and the round's stats.

    Idempotent per (round, content): sending the same data again answers
    ``already_ingested: true`` and counts nothing twice. A bad record rejects the whole file.
    """
    gt, preds = body.sources()
    opts = MatchOptions.from_settings(request.app.state.settings)
    with store_errors():
        return await ingest_round(store, body.round, gt, preds, opts)


@router.get("/v1/false-positives/rounds", response_model=RoundsResponse)
async def false_positive_rounds(store: FPStoreDep) -> RoundsResponse:
    """Every round ingested so far, oldest first, with its stats."""
    with store_errors():
        return RoundsResponse(rounds=await store.rounds(), version=await store.version())


async def aclose(app: FastAPI) -> None:
    """Close and forget ``app.state.fp_store``, for an app that opened its own store (the
    service's store belongs to its pipeline, which closes it)."""
    store: FPStore | None = getattr(app.state, "fp_store", None)
    if store is not None:
        app.state.fp_store = None
        await store.aclose()
