"""The verification routes on a minimal app, against the SQLite file and a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from hardneg.miners.verify.export import build_queries, read_dataset
from hardneg.service import routes_verify
from hardneg.service.errors import install_error_handlers
from hardneg.service.settings import Settings
from tests.miners.verify import fixture
from tests.miners.verify.conftest import vfiles  # noqa: F401  (the fixture)


@pytest.fixture(params=["sqlite", "redis"])
async def app(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[FastAPI]:
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    app = FastAPI()
    install_error_handlers(app)
    app.state.settings = Settings(
        _env_file=None, verify_store_path=tmp_path / "v.sqlite", redis_url=redis_url
    )
    routes_verify.open_for(app)
    app.include_router(routes_verify.router)
    yield app
    await routes_verify.aclose(app)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def _export(app, files):
    data = read_dataset(files["dataset"])
    queries = build_queries(data, files["candidates"])
    truth = {q.image_id: data[q.image_id].instances for q in queries}
    await app.state.verify_store.export("r1", queries, truth)


def _error(resp: httpx.Response, status: int) -> str:
    assert resp.status_code == status, resp.text
    return str(resp.json()["error"]["message"])


async def test_ingest_stats_held_and_checks(app, client, vfiles):  # noqa: F811
    await _export(app, vfiles)
    body = {"predictions": fixture.predictions()}
    resp = await client.post("/v1/verify/rounds/r1/predictions", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["stats"]["totals"] == {
        "queries": 6,
        "fooled": 2,
        "ignored": 2,
        "elsewhere": 2,
    }
    again = await client.post("/v1/verify/rounds/r1/predictions", json=body)
    assert again.json()["already_ingested"] is True
    rounds = (await client.get("/v1/verify/rounds")).json()["rounds"]
    assert rounds[0]["per_miner"]["vocabulary"]["fooled"] == 2
    one = (await client.get("/v1/verify/rounds/r1")).json()
    assert one["round"] == "r1" and one["predictions"] == 6
    held = (await client.get("/v1/verify/held")).json()["held"]
    assert sorted(h["phrase"] for h in held) == ["dog", "red school bus"]
    check = {"image_id": "2", "phrase": "dog", "verdict": "present"}
    assert (await client.post("/v1/verify/checks", json=check)).json()["human"] == "present"
    assert len((await client.get("/v1/verify/held")).json()["held"]) == 1


async def test_errors(app, client, vfiles):  # noqa: F811
    assert "no verification round" in _error(await client.get("/v1/verify/rounds/nope"), 404)
    body = {"predictions": fixture.predictions()}
    assert "nope" in _error(await client.post("/v1/verify/rounds/nope/predictions", json=body), 404)
    await _export(app, vfiles)
    await client.post("/v1/verify/rounds/r1/predictions", json=body)
    other = {"predictions": fixture.predictions()[:2]}
    msg = _error(await client.post("/v1/verify/rounds/r1/predictions", json=other), 409)
    assert "other predictions" in msg
    bad = {"predictions": [{"image_id": 1, "score": 2, "bbox": [0, 0, 1, 1]}]}
    assert "score" in _error(await client.post("/v1/verify/rounds/r1/predictions", json=bad), 422)
    both = {"predictions": [], "predictions_path": "/x"}
    assert "exactly one" in _error(
        await client.post("/v1/verify/rounds/r1/predictions", json=both), 422
    )
    check = {"image_id": "1", "phrase": "zebra", "verdict": "absent"}
    assert "never verified" in _error(await client.post("/v1/verify/checks", json=check), 404)
    check["verdict"] = "maybe"
    _error(await client.post("/v1/verify/checks", json=check), 422)
