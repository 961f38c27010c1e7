"""``POST /v1/false-positives`` (ingest a round) and ``GET /v1/false-positives/rounds``.

Ground truth and predictions come in the JSON body, or as paths readable by the server.
The store opens lazily from ``app.state.settings`` and lives on ``app.state.fp_store``;
call :func:`aclose` at shutdown.
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

from hardneg.miners.false_positive import (
    FPStore,
    IngestError,
    IngestReport,
    MatchOptions,
    RoundStats,
    ingest_round,
    open_store,
)
from hardneg.miners.false_positive.ingest import Source
from hardneg.miners.false_positive.records import MAX_ROUND_CHARS
from hardneg.miners.false_positive.store_redis import StoreBusy
from hardneg.service.errors import BadRequest, DependencyDown, Overloaded

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
    """The app's confusion-table store, opened on first use (nothing here awaits: no race)."""
    state = request.app.state
    store: FPStore | None = getattr(state, "fp_store", None)
    if store is None:
        store = state.fp_store = open_store(state.settings)
    return store


FPStoreDep = Annotated[FPStore, Depends(get_fp_store)]


@contextmanager
def _store_errors() -> Iterator[None]:
    """Map store failures to the API's errors: bad input 422, busy 429, store down 503."""
    try:
        yield
    except IngestError as exc:
        raise BadRequest(f"{exc}; nothing was stored") from exc
    except StoreBusy as exc:
        raise Overloaded(f"{exc}; retry shortly", retry_after_s=5) from exc
    except (RedisError, sqlite3.Error, OSError) as exc:
        raise DependencyDown(f"false-positive store unavailable: {exc}") from exc


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
    with _store_errors():
        return await ingest_round(store, body.round, gt, preds, opts)


@router.get("/v1/false-positives/rounds", response_model=RoundsResponse)
async def false_positive_rounds(store: FPStoreDep) -> RoundsResponse:
    """Every round ingested so far, oldest first, with its stats."""
    with _store_errors():
        return RoundsResponse(rounds=await store.rounds(), version=await store.version())


async def aclose(app: FastAPI) -> None:
    """Close the store the routes opened, if any (call from the app's lifespan shutdown)."""
    store: FPStore | None = getattr(app.state, "fp_store", None)
    if store is not None:
        app.state.fp_store = None
        await store.aclose()
