"""Fixtures shared by the miner tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes import openai_server as fake


@pytest.fixture(scope="module")
def server() -> Iterator[fake.FakeLLM]:
    """The in-test OpenAI-compatible server standing in for vLLM (one per test module)."""
    with fake.FakeLLM() as srv:
        yield srv


@pytest.fixture
def llm(server: fake.FakeLLM) -> fake.FakeLLM:
    """That server with its scripted behaviours and recorded requests reset."""
    server.reset()
    return server
