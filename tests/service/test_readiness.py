"""Issue 13, failure 6 (first half): /readyz said 200 while Redis was down, so a Kubernetes
readiness probe kept routing traffic. Now a required component down is 503; optional ones
only degrade it; it recovers without a restart."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hardneg.service.app import create_app
from hardneg.service.cache import RedisCache
from hardneg.service.routes import readiness_status
from tests.procs import redis_server

pytestmark = pytest.mark.integration


def test_readyz_turns_503_while_redis_is_down_and_recovers(make_pipeline, tmp_path):
    with redis_server(tmp_path / "redis") as srv:
        pipeline = make_pipeline(cache=RedisCache(srv.url, backoff_s=0.1))
        with TestClient(create_app(pipeline=pipeline)) as client:
            up = client.get("/readyz")
            assert up.status_code == 200 and up.json()["status"] == "ok", up.text
            srv.stop()
            down = client.get("/readyz")
            assert down.status_code == 503, down.text
            assert down.json()["down"] == ["cache"]
            assert not down.json()["components"]["cache"]["ok"]
            assert client.get("/healthz").status_code == 200  # alive, just not ready
            # answers keep coming meanwhile, marked degraded
            item = client.post("/v1/negatives", json={"items": [{"positives": ["zebra"]}]})
            assert item.status_code == 200 and item.json()["items"][0]["degraded"] is True
            srv.start()
            again = client.get("/readyz")
            assert again.status_code == 200 and again.json()["status"] == "ok", again.text


def test_optional_components_only_degrade():
    parts = {
        "cache": {"ok": True},
        "embedder": {"ok": True},
        "miner:vocabulary": {"ok": True},
        "miner:llm": {"ok": False},
    }
    assert readiness_status(parts, ["embedder", "cache", "miners"]) == (200, "degraded", [])
    assert readiness_status(parts, ["miner:llm"]) == (503, "unavailable", ["miner:llm"])
    parts["cache"]["ok"] = False
    assert readiness_status(parts, ["embedder", "miners"]) == (200, "degraded", [])
    assert readiness_status(parts, ["cache"])[0] == 503
    no_miner = {"embedder": {"ok": True}, "miner:a": {"ok": False}}
    assert readiness_status(no_miner, ["miners"]) == (503, "unavailable", ["miners"])
