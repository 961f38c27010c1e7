"""Verdict stores on both backends: a SQLite file, and a real redis-server that fsyncs every write
(appendonly yes, appendfsync always), started on a free port for this package."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from hardneg.miners.verdicts import Verdict
from hardneg.service.verdicts.store import SqliteVerdictStore, VerdictStore
from hardneg.service.verdicts.store_redis import RedisVerdictStore
from tests.procs import RedisServer, redis_server


@pytest.fixture(scope="session")
def durable_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with redis_server(tmp_path_factory.mktemp("redis-aof"), appendonly=True) as srv:
        yield srv


@pytest.fixture
def durable_redis_url(durable_redis: RedisServer) -> str:
    import redis as redis_sync

    r = redis_sync.Redis.from_url(durable_redis.url)
    r.flushall()
    r.close()
    return durable_redis.url


@pytest.fixture(params=["sqlite", "redis"])
async def store(request, tmp_path) -> AsyncIterator[VerdictStore]:
    s: VerdictStore
    if request.param == "sqlite":
        s = SqliteVerdictStore(tmp_path / "verdicts.sqlite")
    else:
        s = RedisVerdictStore(request.getfixturevalue("durable_redis_url"))
    yield s
    await s.aclose()


def verdict(n: int | str, **kw) -> Verdict:
    """A verdict with sensible defaults: item img-1, yellow school bus / yellow taxi, absent."""
    base = {
        "id": f"v{n}",
        "item_id": "img-1",
        "positive": "yellow school bus",
        "negative": "yellow taxi",
        "verdict": "absent",
        "annotator": "ann",
        "source": "test",
    }
    return Verdict.model_validate({**base, **kw})
