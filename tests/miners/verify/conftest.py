"""The verification store on both backends (a SQLite file, a real Redis) and the fixture files."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hardneg.miners.verify import VerifyStore
from hardneg.miners.verify.kv import RedisKV, SqliteKV
from tests.miners.verify import fixture


@pytest.fixture(params=["sqlite", "redis"])
async def vstore(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VerifyStore]:
    if request.param == "redis":
        store = VerifyStore(RedisKV(request.getfixturevalue("redis_url")))
    else:
        store = VerifyStore(SqliteKV(tmp_path / "verify.sqlite"))
    yield store
    await store.aclose()


@pytest.fixture
def vfiles(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "dataset": tmp_path / "gt.json",
        "candidates": tmp_path / "mined.jsonl",
        "predictions": tmp_path / "preds.json",
    }
    paths["dataset"].write_text(json.dumps(fixture.dataset()))
    paths["candidates"].write_text("".join(json.dumps(c) + "\n" for c in fixture.candidates()))
    paths["predictions"].write_text(json.dumps(fixture.predictions()))
    return paths
