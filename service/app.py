"""The FastAPI application: resources made in the lifespan, routes, errors, metrics middleware."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from hardneg.service import metrics, routes_verify
from hardneg.service.admission import Admission
from hardneg.service.auth import Keys
from hardneg.service.body import BodyLimit
from hardneg.service.errors import install_error_handlers
from hardneg.service.labelstudio.router import router as labelstudio_router
from hardneg.service.operator import Operator
from hardneg.service.pipeline import Pipeline
from hardneg.service.review.routes import router as review_router
from hardneg.service.routes import Inflight
from hardneg.service.routes import router as negatives_router
from hardneg.service.routes_fp import router as fp_router
from hardneg.service.settings import Settings
from hardneg.service.verdicts.routes import router as verdicts_router
from hardneg.service.verdicts.store import open_verdict_store

FP_PREFIX = "/v1/false-positives"  # operator routes: their body limit is the file cap

log = logging.getLogger(__name__)


class MetricsMiddleware:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware): counts and times every request."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            metrics.record_request(route, scope["method"], status[0], time.perf_counter() - start)


def create_app(settings: Settings | None = None, pipeline: Pipeline | None = None) -> FastAPI:
    """Build the app; pass a ready ``pipeline`` (tests, benchmarks) to skip loading models."""
    settings = settings or (pipeline.settings if pipeline else Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = pipeline is None
        pipe = (
            pipeline if pipeline is not None else await asyncio.to_thread(Pipeline.create, settings)
        )
        await pipe.warm_up()
        # the service answers 429 + Retry-After past a lane's budget (in-process callers wait)
        pipe.admission = Admission.from_settings(settings, reject=True)
        app.state.pipeline = pipe
        app.state.fp_store = pipe.fp_store  # one store per process: the miner's and the routes'
        app.state.verify_store = pipe.verify_store  # the image steps' store, shared
        own_store = pipe.verify_store is None  # a pipeline made without one: the routes' own
        if own_store:
            routes_verify.open_for(app)
        # one verdict store per process: the pipeline's steps' and the routes'
        own_verdicts = pipe.verdict_store is None
        app.state.verdict_store = pipe.verdict_store or open_verdict_store(settings)
        log.info(
            "hardneg ready: embedder=%s cache=%s miners=%s",
            pipe.embedder.id,
            pipe.cache.name,
            sorted(pipe.registry.miners),
        )
        try:
            yield
        finally:
            app.state.operator.close()
            if own_store:
                await routes_verify.aclose(app)
            if own_verdicts:
                await app.state.verdict_store.aclose()
                app.state.verdict_store = None
            if own:
                await pipe.aclose()

    app = FastAPI(
        title="hardneg",
        version="0.1.0",
        summary="Hard negatives for vision-language and open-vocabulary detection data",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.inflight = Inflight(settings.max_inflight)
    app.state.keys = Keys.from_settings(settings)
    app.state.operator = Operator(settings)
    install_error_handlers(app)
    app.include_router(negatives_router)
    app.include_router(fp_router)
    app.include_router(routes_verify.router)
    app.include_router(verdicts_router)
    app.include_router(labelstudio_router, prefix="/labelstudio")
    app.include_router(review_router)
    app.openapi = lambda: openapi_with_miners(app)  # type: ignore[method-assign]
    _add_middleware(app, settings)
    return app


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    """Outermost last: the body limit answers 413 before anything else runs, and is counted."""
    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        per_path={FP_PREFIX: settings.fp_max_file_bytes * 2 + 64 * 1024},
    )
    app.add_middleware(MetricsMiddleware)


def openapi_with_miners(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with the names of this service's miners as the enum of every
    ``miners`` field, so a client (or a fuzzer) knows which names are accepted."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, summary=app.summary, routes=app.routes
    )
    keys: Keys | None = getattr(app.state, "keys", None)
    if keys is None or not keys.enabled:
        _without_security(schema)
    pipeline: Pipeline | None = getattr(app.state, "pipeline", None)
    if pipeline is not None:
        names = sorted(pipeline.registry.names)
        for model in ("MineOptions", "NegativesRequest"):
            props = schema.get("components", {}).get("schemas", {}).get(model, {})
            _set_enum(props.get("properties", {}).get("miners", {}), names)
        for param in schema["paths"]["/v1/negatives"]["get"]["parameters"]:
            if param["name"] == "miners":
                _set_enum(param["schema"], names)
        app.openapi_schema = schema  # cached only once the miners are known
    return schema


def _without_security(schema: dict[str, Any]) -> None:
    """No keys configured: no route asks for one, and none answers 401/403."""
    schema.get("components", {}).pop("securitySchemes", None)
    for operations in schema["paths"].values():
        for op in operations.values():
            op.pop("security", None)
            for status in ("401", "403"):
                op.get("responses", {}).pop(status, None)


def _set_enum(field: dict[str, Any], names: list[str]) -> None:
    """Put ``enum`` on the string items of an ``array`` (or ``array | null``) field."""
    for variant in field.get("anyOf", [field]):
        if variant.get("type") == "array":
            variant["items"] = {**variant.get("items", {}), "enum": names}


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory hardneg.service.app:app_from_env``."""
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return create_app(settings)
