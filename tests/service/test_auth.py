"""Optional API keys on the negatives routes, the OpenAPI that says so, and the clients."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hardneg.clients import AsyncClient, Client
from hardneg.service.app import create_app
from hardneg.service.settings import Settings


@pytest.fixture(scope="module")
def keyed(make_pipeline):
    pipe = make_pipeline()
    settings = Settings(
        _env_file=None,
        miners=["vocabulary"],
        index_dir=pipe.settings.index_dir,
        api_keys_read=["r-key"],
        api_keys_write=["w-key"],
    )
    with TestClient(create_app(settings, pipeline=pipe)) as c:
        yield c


BODY = {"items": [{"positives": ["zebra"]}], "k": 3}


def test_reads_need_a_key_when_keys_are_set(keyed):
    assert keyed.post("/v1/negatives", json=BODY).status_code == 401
    assert keyed.get("/v1/negatives", params={"concept": "zebra"}).status_code == 401
    bad = keyed.post("/v1/negatives", json=BODY, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.json()["error"]["type"] == "unauthorized"
    for key in ("r-key", "w-key"):
        ok = keyed.post("/v1/negatives", json=BODY, headers={"X-API-Key": key})
        assert ok.status_code == 200, ok.text
    # probes and metrics stay open for the orchestrator and Prometheus
    assert keyed.get("/healthz").status_code == 200 and keyed.get("/readyz").status_code == 200
    assert keyed.get("/metrics").status_code == 200


def test_openapi_declares_the_keys_only_when_set(keyed, make_pipeline):
    spec = keyed.get("/openapi.json").json()
    assert {"HTTPBearer", "APIKeyHeader"} <= set(spec["components"]["securitySchemes"])
    post = spec["paths"]["/v1/negatives"]["post"]
    assert post["security"] and {"401", "403"} <= set(post["responses"])
    with TestClient(create_app(pipeline=make_pipeline())) as open_:
        spec = open_.get("/openapi.json").json()
    assert "securitySchemes" not in spec.get("components", {})
    assert "401" not in spec["paths"]["/v1/negatives"]["post"]["responses"]


def test_clients_send_the_key_as_a_bearer_token():
    with Client("http://127.0.0.1:9", api_key="k1") as c:
        assert c._http.headers["authorization"] == "Bearer k1"
    with Client("http://127.0.0.1:9") as c:
        assert "authorization" not in c._http.headers
    assert AsyncClient("http://127.0.0.1:9", api_key="k2")._http.headers["authorization"]
