"""False-positive routes: ingest a round (JSON body or file upload) and list the rounds.

Ground truth and predictions come inline in the JSON body, as files in a multipart upload
(``/v1/false-positives/upload``: no server paths needed), or as paths relative to the operator's
ingest root (``HARDNEG_FP_INGEST_ROOT``; see service/operator.py for what is refused and why).
Parsing and matching run on the operator's own threads, one ingestion at a time per process.
The store is the process's one (``app.state.fp_store``, the pipeline's in the service).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, File, Form, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.json_schema import SkipJsonSchema
from redis.exceptions import RedisError

from hardneg.miners.errors import DependencyDown
from hardneg.miners.false_positive import FPStore, IngestReport, MatchOptions, RoundStats
from hardneg.miners.false_positive.ingest import Source
from hardneg.miners.false_positive.records import MAX_ROUND_CHARS
from hardneg.miners.false_positive.rounds import prepare
from hardneg.miners.types import FORBIDDEN_CHARS
from hardneg.service.auth import require_read, require_write
from hardneg.service.body import StrictJSONRoute
from hardneg.service.errors import PayloadTooLarge, declared
from hardneg.service.operator import Operator

router = APIRouter(tags=["false positives"], route_class=StrictJSONRoute)

_PRINTABLE = r"\p{L}\p{M}\p{N}\p{P}\p{S}"
# Printable characters (what the stores accept as a round name), at least one not a space.
RoundName = Annotated[
    str,
    StringConstraints(max_length=MAX_ROUND_CHARS, pattern=f"^ *[{_PRINTABLE}][{_PRINTABLE} ]*$"),
]
ServerPath = Annotated[
    str, StringConstraints(min_length=1, max_length=4096, pattern=f"^[^{FORBIDDEN_CHARS}]+$")
]
_SOURCES = ("ground_truth", "predictions")


class FalsePositiveIngest(BaseModel):
    """One round's files: each of ground truth and predictions inline, or as a path relative to
    the ingest root. Leave out the one you do not send (null is not a value here)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "allOf": [
                {"oneOf": [{"required": [name]}, {"required": [f"{name}_path"]}]}
                for name in _SOURCES
            ]
        },
    )

    round: RoundName = Field(description="Model version (printable, 1-200 characters).")
    ground_truth: dict[str, Any] | SkipJsonSchema[None] = Field(
        None, description="COCO / LVIS / open-vocabulary ground truth."
    )
    predictions: list[Any] | SkipJsonSchema[None] = Field(None, description="COCO results list.")
    ground_truth_path: ServerPath | SkipJsonSchema[None] = Field(
        None, description="A file under the server's ingest root, instead (relative to it)."
    )
    predictions_path: ServerPath | SkipJsonSchema[None] = Field(
        None, description="A file under the server's ingest root, instead (relative to it)."
    )

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nulls = sorted(k for k, v in data.items() if v is None)
            if nulls:
                raise ValueError(f"{', '.join(nulls)}: null is not a value; leave the field out")
        return data

    @model_validator(mode="after")
    def _one_of_each(self) -> FalsePositiveIngest:
        for name in _SOURCES:
            given = (getattr(self, name) is not None) + (getattr(self, f"{name}_path") is not None)
            if given != 1:
                raise ValueError(f"send exactly one of {name} and {name}_path")
        return self


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


def get_operator(request: Request) -> Operator:
    operator: Operator | None = getattr(request.app.state, "operator", None)
    if operator is None:  # an app without the service's lifespan (tests of the routes alone)
        operator = request.app.state.operator = Operator(request.app.state.settings)
    return operator


FPStoreDep = Annotated[FPStore, Depends(get_fp_store)]
OperatorDep = Annotated[Operator, Depends(get_operator)]


@contextmanager
def store_errors(what: str = "false-positive store") -> Iterator[None]:
    """A failing store says which store failed (the status comes from service/errors.py)."""
    try:
        yield
    except (RedisError, sqlite3.Error, OSError) as exc:
        raise DependencyDown(f"{what} unavailable: {exc}") from exc


async def _ingest(
    request: Request, store: FPStore, operator: Operator, round_name: str, gt: Source, preds: Source
) -> IngestReport:
    """Parse and match on the operator's threads, then commit to the store."""
    opts = MatchOptions.from_settings(request.app.state.settings)
    prep = await operator.run(prepare, round_name, gt, preds, opts)
    with store_errors():
        return await store.apply(prep)


INGEST_ERRORS = declared(401, 403, 413, 422, 429, 503, 504)


@router.post(
    "/v1/false-positives",
    response_model=IngestReport,
    responses=INGEST_ERRORS,
    dependencies=[require_write],
)
async def ingest_false_positives(
    body: FalsePositiveIngest, store: FPStoreDep, operator: OperatorDep, request: Request
) -> IngestReport:
    """Ingest one round's predictions; returns this file's and the round's stats.

    Idempotent per (round, content): sending the same data again answers
    ``already_ingested: true`` and counts nothing twice. A bad record rejects the whole file.
    One ingestion runs at a time per process; another gets 429.
    """
    operator.claim()
    try:
        sources: list[Source] = []
        for name in _SOURCES:
            inline = getattr(body, name)
            path = getattr(body, f"{name}_path")
            sources.append(
                inline if inline is not None else await operator.read(f"{name}_path", path)
            )
        return await _ingest(request, store, operator, body.round, *sources)
    finally:
        operator.release()


async def _upload_bytes(upload: UploadFile, field: str, cap: int) -> bytes:
    data = await upload.read(cap + 1)
    if len(data) > cap:
        raise PayloadTooLarge(f"{field}: file larger than {cap} bytes (HARDNEG_FP_MAX_FILE_BYTES)")
    return data


@router.post(
    "/v1/false-positives/upload",
    response_model=IngestReport,
    responses=INGEST_ERRORS,
    dependencies=[require_write],
)
async def upload_false_positives(
    round: Annotated[RoundName, Form(description="Model version (printable, 1-200 characters).")],
    ground_truth: Annotated[UploadFile, File(description="COCO / LVIS ground-truth JSON file.")],
    predictions: Annotated[UploadFile, File(description="COCO results JSON file.")],
    store: FPStoreDep,
    operator: OperatorDep,
    request: Request,
) -> IngestReport:
    """The same ingestion with the two files uploaded (``multipart/form-data``), e.g.
    ``curl -F round=r1 -F ground_truth=@gt.json -F predictions=@preds.json``."""
    operator.claim()
    try:
        cap = operator.settings.fp_max_file_bytes
        gt = await _upload_bytes(ground_truth, "ground_truth", cap)
        preds = await _upload_bytes(predictions, "predictions", cap)
        return await _ingest(request, store, operator, round, gt, preds)
    finally:
        operator.release()


@router.get(
    "/v1/false-positives/rounds",
    response_model=RoundsResponse,
    responses=declared(401, 403, 503),
    dependencies=[require_read],
)
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
    operator: Operator | None = getattr(app.state, "operator", None)
    if operator is not None:
        operator.close()
