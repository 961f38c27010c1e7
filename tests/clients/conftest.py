"""Fixtures of the client tests: the batch runner on the session's in-process pipeline."""

from __future__ import annotations

import pytest

from hardneg.clients.cli import batch
from hardneg.service.local import LocalBackend


@pytest.fixture
def in_process(monkeypatch, make_pipeline):
    """run_batch's in-process path, on the session's MiniLM pipeline."""
    pipe = make_pipeline()

    class Shared(LocalBackend):
        async def aclose(self) -> None:  # the session's pipeline outlives one batch run
            return None

    async def open_backend(url, **_):
        return Shared(pipe)

    monkeypatch.setattr(batch, "open_backend", open_backend)
    return pipe
