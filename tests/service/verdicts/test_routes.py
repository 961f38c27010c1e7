"""``/v1/verdicts`` and ``/v1/stats`` through a FastAPI app with the real routes, on both stores;
``/metrics`` through the full app."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from hardneg.service.errors import install_error_handlers
from hardneg.service.verdicts.routes import router


@pytest.fixture
async def client(store) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_error_handlers(app)
    app.state.verdict_store = store
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


def body(n, **kw):
    return {
        "id": f"v{n}",
        "item_id": "img-1",
        "positive": "yellow school bus",
        "negative": "yellow taxi",
        "verdict": "present",
        "annotator": "ann",
        "source": "test",
        **kw,
    }


def _error(resp: httpx.Response, status: int = 422) -> str:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "code"} and err["code"] == status
    return err["message"]


async def test_one_then_a_batch_then_the_same_again(client):
    one = await client.post("/v1/verdicts", json=body(1))
    assert one.status_code == 200 and one.json()["stored"] == 1
    batch = {"verdicts": [body(1), body(2, negative="minivan", verdict="absent")]}
    resp = await client.post("/v1/verdicts", json=batch)
    assert resp.json() == {
        "stored": 1,
        "duplicates": 1,
        "replaced": 0,
        "deleted": 0,
        "ids": ["v1", "v2"],
    }
    by_item = (await client.get("/v1/verdicts", params={"item_id": "img-1"})).json()["verdicts"]
    assert [v["id"] for v in by_item] == ["v1", "v2"] and by_item[0]["received_at"] > 0
    by_pos = await client.get("/v1/verdicts", params={"positive": "Yellow School-Buses"})
    assert len(by_pos.json()["verdicts"]) == 2


async def test_bad_input_is_422_in_the_one_shape_and_stores_nothing(client):
    msg = _error(await client.post("/v1/verdicts", json=body(1, verdict="maybe")))
    assert "verdict" in msg and "'absent'" in msg and "'present'" in msg
    batch = {"verdicts": [body(1), body(2, negative="")]}
    assert "negative" in _error(await client.post("/v1/verdicts", json=batch))
    assert "id" in _error(await client.post("/v1/verdicts", json=body(1, id=" ")))
    assert "extra" in _error(await client.post("/v1/verdicts", json=body(1, colour="red"))).lower()
    _error(
        await client.post(
            "/v1/verdicts", content=b"{not json", headers={"content-type": "application/json"}
        )
    )
    assert "exactly one" in _error(await client.get("/v1/verdicts"))
    assert (await client.get("/v1/verdicts", params={"item_id": "img-1"})).json() == {
        "verdicts": []
    }


async def test_delete(client):
    await client.post("/v1/verdicts", json=body(1))
    assert (await client.delete("/v1/verdicts/v1")).json() == {"deleted": True}
    assert "v1" in _error(await client.delete("/v1/verdicts/v1"), 404)


async def test_export_is_features_ready_jsonl_and_resumes(client):
    await client.post(
        "/v1/verdicts",
        json={
            "verdicts": [
                body(1, sources=["llm", "ontology"], kind="colour"),
                body(2, negative="minivan", verdict="absent"),
                body(3, negative="van", verdict="unsure"),
            ]
        },
    )
    resp = await client.get("/v1/verdicts/export")
    assert resp.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in resp.text.splitlines()]
    assert [r["label"] for r in rows] == [0, 1, None]
    assert rows[0]["phrase"] == "yellow taxi" and rows[0]["sources"] == ["llm", "ontology"]
    assert rows[0]["kind"] == "colour" and rows[0]["item_id"] == "img-1"
    after = await client.get("/v1/verdicts/export", params={"since": rows[1]["seq"]})
    assert [json.loads(x)["id"] for x in after.text.splitlines()] == ["v3"]


async def test_stats_acceptance_per_miner_and_kind(client):
    await client.post(
        "/v1/verdicts",
        json={
            "verdicts": [
                body(1, sources=["llm"], kind="colour", verdict="absent"),
                body(2, sources=["llm"], kind="colour", negative="red bus"),
                body(3, sources=["vocabulary"], kind="type", negative="tram", verdict="absent"),
                body(4, sources=["vocabulary"], negative="van", verdict="unsure"),
            ]
        },
    )
    stats = (await client.get("/v1/stats")).json()["verdicts"]
    assert stats["total"]["judged"] == 3 and stats["total"]["acceptance"] == pytest.approx(0.6667)
    assert stats["by_miner"]["llm"]["acceptance"] == 0.5
    assert stats["by_miner"]["vocabulary"] == {
        "counts": {"absent": 1, "unsure": 1},
        "judged": 1,
        "acceptance": 1.0,
    }
    assert stats["by_kind"]["colour"]["acceptance"] == 0.5


async def test_a_store_that_is_down_is_503_not_200(durable_redis_url):
    from hardneg.service.verdicts.store_redis import RedisVerdictStore

    app = FastAPI()
    install_error_handlers(app)
    app.state.verdict_store = RedisVerdictStore("redis://127.0.0.1:1/0", timeout_s=0.5)
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        assert "store unavailable" in _error(await c.post("/v1/verdicts", json=body(1)), 503)
        _error(await c.get("/v1/verdicts/export"), 503)
