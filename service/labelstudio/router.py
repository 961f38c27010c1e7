"""A Label Studio ML backend served by hardneg: ``/health``, ``/setup``, ``/predict``, ``/webhook``
in the protocol of the label-studio-ml-backend project. Its own router: mount it under a prefix
(the service mounts it at ``/labelstudio``) and give Label Studio that URL as the model URL.

``/predict`` answers ``{"results": [{"result", "score", "model_version"}, ...]}``, one per task, in
order; a task hardneg cannot read gets an empty prediction (Label Studio drops the whole answer
when the count is off). ``/webhook`` turns annotation events into verdicts.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from hardneg.miners.errors import InvalidInput
from hardneg.miners.types import NegativesRequest, RequestItem
from hardneg.service.access import WriteAccess
from hardneg.service.labelstudio.annotations import group_of, verdicts_of
from hardneg.service.labelstudio.config import Control, find_control, item_of, pre_annotation
from hardneg.service.pipeline import Pipeline
from hardneg.service.verdicts.routes import StoreDep

__all__ = ["MODEL_VERSION_PREFIX", "model_version", "router"]

log = logging.getLogger(__name__)
router = APIRouter(tags=["label studio"])
MODEL_VERSION_PREFIX = "hardneg"
CREATED = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED")
DELETED = ("ANNOTATION_DELETED", "ANNOTATIONS_DELETED")


def model_version(pipeline: Pipeline) -> str:
    return f"{MODEL_VERSION_PREFIX}:{pipeline.embedder.id}"


def _pipeline(request: Request) -> Pipeline:
    pipeline: Pipeline = request.app.state.pipeline
    return pipeline


PipelineDep = Annotated[Pipeline, Depends(_pipeline)]


class PredictRequest(BaseModel):
    """What Label Studio sends (other fields it adds are ignored)."""

    model_config = ConfigDict(extra="ignore")

    tasks: list[dict[str, Any]] = Field(max_length=1000)
    label_config: str
    project: str | int | None = None
    params: dict[str, Any] | None = None


class SetupRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    project: str | int | None = None
    schema_: str = Field(alias="schema")


@router.get("/health")
@router.get("/")
async def health() -> dict[str, str]:
    return {"status": "UP", "model_class": "hardneg"}


@router.post("/setup")
async def setup(body: SetupRequest, pipeline: PipelineDep, request: Request) -> dict[str, str]:
    """Label Studio connects: check that the label config has a control hardneg can fill."""
    find_control(body.schema_, request.app.state.settings.ls_control)  # LabelConfigError: 422
    return {"model_version": model_version(pipeline)}


async def predictions(
    pipeline: Pipeline, tasks: list[dict[str, Any]], control: Control
) -> list[dict[str, Any]]:
    """One prediction per task (empty for a task without positives), mined in one request."""
    items: list[RequestItem | None] = []
    for task in tasks:
        try:
            items.append(item_of(task))
        except (InvalidInput, ValueError) as exc:
            log.warning("label studio task skipped: %s", exc)
            items.append(None)
    todo = [i for i in items if i is not None]
    mined = (await pipeline.mine(NegativesRequest(items=todo))).items if todo else []
    results = iter(mined)
    version = model_version(pipeline)
    out = []
    for item in items:
        negatives = next(results).negatives if item is not None else []
        result = pre_annotation(control, negatives) if negatives else []
        score = max((n.score for n in negatives), default=0.0)
        out.append({"result": result, "score": round(score, 4), "model_version": version})
    return out


@router.post("/predict")
async def predict(body: PredictRequest, pipeline: PipelineDep, request: Request) -> dict[str, Any]:
    """Negatives for each task as a pre-annotation of the control."""
    control = find_control(body.label_config, request.app.state.settings.ls_control)
    return {"results": await predictions(pipeline, body.tasks, control)}


@router.post("/webhook", status_code=201)
async def webhook(
    store: StoreDep,
    request: Request,
    _: WriteAccess,
    payload: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    """Annotation created/updated: its verdicts replace the annotation's; deleted: removed.
    Other events are acknowledged and ignored (Label Studio sends every action here)."""
    action = str(payload.get("action") or "")
    settings = request.app.state.settings
    if action in CREATED:
        group, verdicts = verdicts_of(payload, settings.ls_control, settings.ls_unselected_verdict)
        written = await store.replace_group(group, verdicts)
        return {"status": "ok", "action": action, **written.model_dump()}
    if action in DELETED:
        project = (payload.get("project") or {}).get("id")
        gone = payload.get("annotations") or [payload.get("annotation") or {}]
        deleted = 0
        for annotation in gone:
            if annotation.get("id") is not None:
                written = await store.replace_group(group_of(project, annotation["id"]), [])
                deleted += written.deleted
        return {"status": "ok", "action": action, "deleted": deleted}
    return {"status": "ignored", "action": action}
