"""Stores of both backends (SQLite file, real Redis), and the fixture written to files."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hardneg.miners.false_positive import FPStore, SqliteStore
from hardneg.miners.false_positive.store_redis import RedisStore
from tests.miners.false_positive import fixture


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[FPStore]:
    """The same tests run against both backends; Redis is a real server, flushed per test."""
    if request.param == "redis":
        s: FPStore = RedisStore(request.getfixturevalue("redis_url"))
    else:
        s = SqliteStore(tmp_path / "fp.sqlite")
    yield s
    await s.aclose()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {"coco": fixture.coco_gt(), "lvis": fixture.lvis_gt(), "preds": fixture.predictions()}
    paths = {}
    for name, data in out.items():
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(data))
    return paths
