"""Thin HTTP routes: parse, call the pipeline, serialise. No mining logic lives here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from hardneg.miners.types import MAX_K, ErrorResponse, NegativesRequest, NegativesResponse
from hardneg.service import metrics
from hardneg.service.errors import BadRequest, Overloaded, describe_errors
from hardneg.service.pipeline import Pipeline
from hardneg.service.verdicts.stats import refresh_verdict_metrics

router = APIRouter()

ERRORS: dict[int | str, dict[str, object]] = {
    422: {"model": ErrorResponse, "description": "Invalid request (says what is wrong)"},
    429: {"model": ErrorResponse, "description": "Overloaded; retry after Retry-After seconds"},
}


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
)
async def post_negatives(
    body: NegativesRequest, pipeline: PipelineDep, inflight: InflightDep
) -> Response:
    return await _answer(pipeline, inflight, body)


@router.get(
    "/v1/negatives",
    response_model=NegativesResponse,
    responses=ERRORS,
    summary="Hard negatives for one concept (annotation tools)",
)
async def get_negatives(
    pipeline: PipelineDep,
    inflight: InflightDep,
    concept: Annotated[str, Query(description="The positive concept")],
    k: Annotated[int | None, Query(ge=1, le=MAX_K)] = None,
    present: Annotated[list[str] | None, Query(description="Other concepts in the image")] = None,
    exclude: Annotated[list[str] | None, Query(description="Phrases never to return")] = None,
    miners: Annotated[list[str] | None, Query(description="Subset of miners by name")] = None,
    min_similarity: float | None = None,
    max_similarity: float | None = None,
    id: str = "",
) -> Response:
    try:
        body = NegativesRequest.for_concept(
            concept,
            present=present or (),
            exclude=exclude or (),
            item_id=id,
            k=k,
            miners=miners,
            min_similarity=min_similarity,
            max_similarity=max_similarity,
        )
    except ValidationError as exc:
        raise BadRequest(describe_errors(exc.errors())) from exc
    return await _answer(pipeline, inflight, body)


@router.get("/healthz", summary="Process alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Components usable, with per-component status")
async def readyz(pipeline: PipelineDep) -> JSONResponse:
    parts = await pipeline.readiness()
    core_ok = parts["embedder"]["ok"] and any(
        v["ok"] for k, v in parts.items() if k.startswith("miner:")
    )
    degraded = not all(v["ok"] for k, v in parts.items() if not k.startswith("miner:"))
    status = "unavailable" if not core_ok else ("degraded" if degraded else "ok")
    return JSONResponse(
        {"status": status, "components": parts}, status_code=200 if core_ok else 503
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus(request: Request) -> Response:
    await refresh_verdict_metrics(getattr(request.app.state, "verdict_store", None))
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)
