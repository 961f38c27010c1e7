"""The in-process backend: the pipeline behind the same ``negatives()``/``aclose()`` as the
HTTP client, so the CLI and batch jobs have one entry to mining, local or remote."""

from __future__ import annotations

import asyncio

from hardneg.miners.base import Progress
from hardneg.miners.types import MineOptions, NegativesRequest, NegativesResponse
from hardneg.service.pipeline import Pipeline
from hardneg.service.settings import Settings


class LocalBackend:
    """Mines in this process. Open it with :meth:`open` (it loads models off the event loop)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    @classmethod
    async def open(
        cls,
        settings: Settings | None = None,
        *,
        options: MineOptions | None = None,
        progress: Progress | None = None,
    ) -> LocalBackend:
        """Build the pipeline in a worker thread and warm the miners ``options`` selects (all
        when None); unknown miner names raise InvalidOptions before anything loads."""
        pipeline = await asyncio.to_thread(Pipeline.create, settings)
        try:
            names = pipeline.resolve(options).miners if options is not None else None
            await pipeline.warm_up(progress, names=names)
        except BaseException:
            await pipeline.aclose()
            raise
        return cls(pipeline)

    async def negatives(self, request: NegativesRequest) -> NegativesResponse:
        return await self.pipeline.mine(request)

    async def aclose(self) -> None:
        await self.pipeline.aclose()
