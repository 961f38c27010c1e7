"""One entry to mining for the CLI and batch jobs: a running service (``--url``) through the
HTTP client, or the pipeline in this process; both with ``negatives()`` and ``aclose()``."""

from __future__ import annotations

from typing import Protocol

from hardneg.miners.base import Progress
from hardneg.miners.types import MineOptions, NegativesRequest, NegativesResponse


class Backend(Protocol):
    async def negatives(self, request: NegativesRequest, /) -> NegativesResponse: ...

    async def aclose(self) -> None: ...


async def open_backend(
    url: str | None,
    *,
    options: MineOptions | None = None,
    progress: Progress | None = None,
    timeout_s: float = 60.0,
    api_key: str | None = None,
) -> Backend:
    """The HTTP client for ``url`` (with ``api_key`` when the service has keys), else the
    in-process pipeline (warming the selected miners)."""
    if url:
        from hardneg.clients.client import AsyncClient

        return AsyncClient(url, timeout=timeout_s, api_key=api_key)
    from hardneg.service.local import LocalBackend

    return await LocalBackend.open(options=options, progress=progress)
