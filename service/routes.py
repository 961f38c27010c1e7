"""Thin HTTP routes: parse, call the pipeline, serialise. No mining logic lives here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from hardneg.miners.types import (
    MAX_K,
    ItemId,
    NegativesRequest,
    NegativesResponse,
    Phrase,
)
from hardneg.service import metrics
from hardneg.service.auth import require_read
from hardneg.service.body import StrictJSONRoute
from hardneg.service.errors import BadRequest, Overloaded, declared, describe_errors
from hardneg.service.pipeline import Pipeline
from hardneg.service.verdicts.stats import refresh_verdict_metrics

router = APIRouter(route_class=StrictJSONRoute)

ERRORS = declared(401, 403, 413, 422, 429, 503)


class Inflight:
    """Bounded concurrency: past the limit a request gets 429 + Retry-After instead of queueing."""

    def __init__(self, limit: int) -> None:
        self.limit, self.count = limit, 0

    def __enter__(self) -> Inflight:
        if self.count >= self.limit:
            raise Overloaded(f"more than {self.limit} requests in flight; retry shortly")
        self.count += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self.count -= 1


def get_pipeline(request: Request) -> Pipeline:
    pipeline: Pipeline = request.app.state.pipeline
    return pipeline


def get_inflight(request: Request) -> Inflight:
    inflight: Inflight = request.app.state.inflight
    return inflight


PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]
InflightDep = Annotated[Inflight, Depends(get_inflight)]


async def _answer(pipeline: Pipeline, inflight: Inflight, body: NegativesRequest) -> Response:
    with inflight:
        content = await pipeline.mine_json(body)  # InvalidOptions -> 422 (service/errors.py)
    return Response(content, media_type="application/json")


@router.post(
    "/v1/negatives",
    response_model=NegativesResponse,
    responses=ERRORS,
    summary="Hard negatives for a batch of items",
    dependencies=[require_read],
)
async def post_negatives(
    body: NegativesRequest, pipeline: PipelineDep, inflight: InflightDep
) -> Response:
    return await _answer(pipeline, inflight, body)


def split_commas(values: list[str] | None) -> list[str] | None:
    """``miners=a,b`` and ``miners=a&miners=b`` alike, as the CLI takes them."""
    if values is None:
        return None
    return [v.strip() for raw in values for v in raw.split(",") if v.strip()]


@router.get(
    "/v1/negatives",
    response_model=NegativesResponse,
    responses=ERRORS,
    summary="Hard negatives for one concept (annotation tools)",
    dependencies=[require_read],
)
async def get_negatives(
    pipeline: PipelineDep,
    inflight: InflightDep,
    concept: Annotated[Phrase, Query(description="The positive concept")],
    k: Annotated[int | None, Query(ge=1, le=MAX_K)] = None,
    present: Annotated[
        list[Phrase] | None, Query(description="Other concepts in the image (repeat the name)")
    ] = None,
    exclude: Annotated[
        list[Phrase] | None, Query(description="Phrases never to return (repeat the name)")
    ] = None,
    miners: Annotated[
        list[str] | None,
        Query(description="Subset of miners by name: repeat the name or separate with commas"),
    ] = None,
    min_similarity: Annotated[float | None, Query(ge=-1.0, le=1.0)] = None,
    max_similarity: Annotated[float | None, Query(ge=-1.0, le=1.0)] = None,
    id: Annotated[ItemId, Query(description="Caller's item id")] = "",
) -> Response:
    try:
        body = NegativesRequest.for_concept(
            concept,
            present=present or (),
            exclude=exclude or (),
            item_id=id,
            k=k,
            miners=split_commas(miners),
            min_similarity=min_similarity,
            max_similarity=max_similarity,
        )
    except ValidationError as exc:
        raise BadRequest(describe_errors(exc.errors())) from exc
    return await _answer(pipeline, inflight, body)


@router.get("/healthz", summary="Process alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def readiness_status(
    parts: dict[str, dict[str, Any]], required: Sequence[str], off: Sequence[str] = ()
) -> tuple[int, str, list[str]]:
    """(HTTP status, ok/degraded/unavailable, required components down). ``required`` names
    components (``cache``, ``embedder``, ``miner:NAME``) or ``miners`` (at least one miner);
    ``off`` are components switched off by configuration: they degrade nothing."""
    down = [name for name, part in parts.items() if name in required and not part["ok"]]
    miners_ok = any(v["ok"] for name, v in parts.items() if name.startswith("miner:"))
    if "miners" in required and not miners_ok:
        down.append("miners")
    if down:
        return 503, "unavailable", sorted(down)
    degraded = not all(v["ok"] for name, v in parts.items() if name not in off)
    return 200, ("degraded" if degraded else "ok"), []


@router.get(
    "/readyz",
    summary="Ready for traffic: 503 when a required component is down, with per-component detail",
    responses={503: {"description": "A required component (HARDNEG_READY_REQUIRES) is down"}},
)
async def readyz(request: Request, pipeline: PipelineDep) -> JSONResponse:
    parts = await pipeline.readiness()
    admission = getattr(pipeline, "admission", None)
    required = request.app.state.settings.ready_requires
    off = [f"miner:{name}" for name in pipeline.registry.disabled]
    status, state, down = readiness_status(parts, required, off)
    body: dict[str, Any] = {"status": state, "components": parts, "required": list(required)}
    if down:
        body["down"] = down
    if admission is not None:
        body["admission"] = admission.snapshot()
    return JSONResponse(body, status_code=status)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus(request: Request) -> Response:
    await refresh_verdict_metrics(getattr(request.app.state, "verdict_store", None))
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)
