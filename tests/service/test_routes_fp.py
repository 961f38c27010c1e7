"""The false-positive routes on a minimal app, against the SQLite file and a real Redis."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from hardneg.miners.false_positive import open_store
from hardneg.service.errors import install_error_handlers
from hardneg.service.routes_fp import aclose, router
from hardneg.service.settings import Settings
from tests.miners.false_positive import fixture


@pytest.fixture(params=["sqlite", "redis"])
async def client(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    app = FastAPI()
    install_error_handlers(app)
    app.state.settings = Settings(
        fp_store_path=tmp_path / "fp.sqlite", redis_url=redis_url, fp_ingest_root=tmp_path
    )
    app.state.fp_store = open_store(app.state.settings)
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c
    await aclose(app)
    assert app.state.fp_store is None


def _body(**extra):
    return {
        "round": "v1",
        "ground_truth": fixture.coco_gt(),
        "predictions": fixture.predictions(),
        **extra,
    }


def _error(resp: httpx.Response, status: int = 422) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and body["error"]["code"] == status
    return str(body["error"]["message"])


async def test_post_inline_then_rounds(client):
    resp = await client.post("/v1/false-positives", json=_body())
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["already_ingested"] is False and report["round"] == "v1"
    assert report["ingest"]["false_positives"] == 9 and report["stats"]["new_pairs"] == 5
    again = (await client.post("/v1/false-positives", json=_body())).json()
    assert again["already_ingested"] is True and again["stats"] == report["stats"]
    rounds = (await client.get("/v1/false-positives/rounds")).json()
    assert rounds["version"] == report["version"]
    assert [(r["round"], r["ingests"], r["confusions"]) for r in rounds["rounds"]] == [("v1", 1, 6)]


async def test_post_server_side_paths(client, tmp_path):
    gt, preds = tmp_path / "gt.json", tmp_path / "preds.json"
    gt.write_text(json.dumps(fixture.lvis_gt()))
    preds.write_text(json.dumps(fixture.predictions()))
    resp = await client.post(
        "/v1/false-positives",
        json={"round": "lvis", "ground_truth_path": "gt.json", "predictions_path": str(preds)},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["ingest"]["unverified"] == fixture.LVIS_UNVERIFIED


async def test_bad_record_is_422_naming_it_and_stores_nothing(client):
    preds = fixture.predictions()
    preds[6]["bbox"] = [0, 0, 10, -3]
    resp = await client.post("/v1/false-positives", json=_body(predictions=preds))
    msg = _error(resp)
    assert "predictions[6].bbox: negative size 10x-3" in msg and "nothing was stored" in msg
    rounds = (await client.get("/v1/false-positives/rounds")).json()
    assert rounds == {"rounds": [], "version": "empty"}


async def test_request_shape_errors_use_the_one_error_body(client, tmp_path):
    msg = _error(await client.post("/v1/false-positives", json={"round": "v1"}))
    assert "exactly one of ground_truth and ground_truth_path" in msg
    both = _body(predictions_path="/x.json")
    assert "exactly one of predictions" in _error(
        await client.post("/v1/false-positives", json=both)
    )
    missing = {
        "round": "v1",
        "ground_truth": fixture.coco_gt(),
        "predictions_path": str(tmp_path / "nope.json"),
    }
    assert "not a readable regular file" in _error(
        await client.post("/v1/false-positives", json=missing)
    )
    resp = await client.post(
        "/v1/false-positives", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert "malformed JSON" in _error(resp)


async def test_store_down_is_503(tmp_path):
    app = FastAPI()
    install_error_handlers(app)
    # a port nothing listens on: the Redis the deploy points at is down
    from tests.procs import free_port

    app.state.settings = Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    app.state.fp_store = open_store(app.state.settings)
    app.include_router(router)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as c:
        msg = _error(await c.get("/v1/false-positives/rounds"), 503)
    assert "false-positive store unavailable" in msg
    await aclose(app)
