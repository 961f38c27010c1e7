"""Fixtures of the client tests: the batch runner on the session's in-process pipeline."""

from __future__ import annotations

import threading
import time

import pytest
import uvicorn

from hardneg.clients.cli import batch
from hardneg.service.app import create_app
from hardneg.service.local import LocalBackend
from tests.procs import free_port


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


@pytest.fixture(scope="module")
def server(make_pipeline):
    """The real app on a free loopback port, in a thread (uvicorn), for the module."""
    app = create_app(pipeline=make_pipeline())
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield app, f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)
