"""Session fixtures: real servers on free loopback ports, never the machine's shared 6379."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.procs import RedisServer, redis_server

# Tests never reach a model hub: the code must work offline (and say so when weights are missing).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def redis_srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server for the whole session (flush between tests yourself if needed)."""
    with redis_server(tmp_path_factory.mktemp("redis")) as srv:
        yield srv


@pytest.fixture
def redis_url(redis_srv: RedisServer) -> Iterator[str]:
    """URL of the session Redis, flushed before each test that uses it."""
    import redis as redis_sync

    r = redis_sync.Redis.from_url(redis_srv.url)
    r.flushall()
    r.close()
    yield redis_srv.url


@pytest.fixture(scope="session")
def minilm():
    """The real MiniLM text model shipped on PyPI (loaded once per session)."""
    from hardneg.service.similarity import MiniLMEmbedder

    return MiniLMEmbedder(device="cpu")


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where tests store built vocabulary indexes (built once per session, then loaded)."""
    return tmp_path_factory.mktemp("index")


@pytest.fixture(scope="session")
def make_pipeline(minilm, index_dir, tmp_path_factory):
    """Factory for pipelines on the embedded default (MiniLM) that share the loaded model."""
    from hardneg.service.pipeline import Pipeline
    from hardneg.service.settings import Settings

    def make(cache=None, factories=None, **overrides):
        overrides.setdefault("miners", ["vocabulary"])
        # Behaviour tests see every candidate the guard and the band let through; the quality
        # floor's own tests (tests/service/test_quality_classes.py) pass quality_floor=None.
        overrides.setdefault("quality_floor", 0.0)
        overrides.setdefault("index_dir", index_dir)
        # verdicts of an app made on this pipeline: never the working directory's store
        overrides.setdefault(
            "verdict_store_path", tmp_path_factory.mktemp("verdicts") / "verdicts.sqlite"
        )
        settings = Settings(_env_file=None, **overrides)
        return Pipeline.create(settings, cache=cache, embedder=minilm, factories=factories)

    return make
