"""The FastAPI application: resources made in the lifespan, routes, errors, metrics middleware."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from hardneg.service import metrics, routes_verify
from hardneg.service.errors import install_error_handlers
from hardneg.service.labelstudio.router import router as labelstudio_router
from hardneg.service.pipeline import Pipeline
from hardneg.service.review.routes import router as review_router
from hardneg.service.routes import Inflight
from hardneg.service.routes import router as negatives_router
from hardneg.service.routes_fp import router as fp_router
from hardneg.service.settings import Settings
from hardneg.service.verdicts.routes import router as verdicts_router
from hardneg.service.verdicts.store import open_verdict_store

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
    install_error_handlers(app)
    app.include_router(negatives_router)
    app.include_router(fp_router)
    app.include_router(routes_verify.router)
    app.include_router(verdicts_router)
    app.include_router(labelstudio_router, prefix="/labelstudio")
    app.include_router(review_router)
    app.add_middleware(MetricsMiddleware)
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory hardneg.service.app:app_from_env``."""
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return create_app(settings)
