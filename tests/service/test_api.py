"""The REST API through the real app (TestClient runs the lifespan) on the embedded default."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hardneg.miners.knowledge.normalize import match_key
from hardneg.service.app import create_app

BUS = {"id": "img-1", "positives": ["yellow school bus"], "present": ["road", "person"]}


@pytest.fixture(scope="module")
def pipeline(make_pipeline):
    return make_pipeline()


@pytest.fixture(scope="module")
def client(pipeline):
    with TestClient(create_app(pipeline=pipeline)) as c:
        yield c


def _error(resp, status=422):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "code"}
    assert body["error"]["code"] == status
    return body["error"]["message"]


def test_post_returns_the_wire_contract(client):
    resp = client.post("/v1/negatives", json={"items": [BUS], "k": 30})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"items", "embedder", "versions"}
    assert body["embedder"].startswith("minilm:")
    assert "miner:vocabulary" in body["versions"] and "knowledge" in body["versions"]
    item = body["items"][0]
    assert item["id"] == "img-1" and item["degraded"] is False
    assert 20 <= len(item["negatives"]) <= 30
    neg = item["negatives"][0]
    assert set(neg) == {"phrase", "score", "for_positive", "kind", "sources", "evidence"}
    assert neg["for_positive"] == "yellow school bus" and neg["sources"] == ["vocabulary"]
    assert neg["kind"] in {"colour", "size", "pattern", "material", "type", "context", "other"}
    assert item["miners"]["vocabulary"]["status"] == "ok"
    assert item["miners"]["vocabulary"]["candidates"] > 0


def test_never_returns_positive_present_synonym_or_ancestor(client):
    resp = client.post("/v1/negatives", json={"items": [BUS], "k": 60})
    phrases = {match_key(n["phrase"]) for n in resp.json()["items"][0]["negatives"]}
    for banned in ("school bus", "schoolbus", "bus", "vehicle", "motor vehicle", "road", "person"):
        assert match_key(banned) not in phrases, banned


def test_caller_exclusions_are_honoured(client):
    first = client.post("/v1/negatives", json={"items": [BUS], "k": 10}).json()
    top = [n["phrase"] for n in first["items"][0]["negatives"][:3]]
    item = {**BUS, "exclude": [p.upper().replace(" ", "_") for p in top]}
    again = client.post("/v1/negatives", json={"items": [item], "k": 10}).json()
    got = {match_key(n["phrase"]) for n in again["items"][0]["negatives"]}
    assert not got & {match_key(p) for p in top}


def test_get_returns_same_shape_with_one_item(client):
    resp = client.get(
        "/v1/negatives",
        params=[
            ("concept", "yellow school bus"),
            ("k", "5"),
            ("present", "road"),
            ("present", "person"),
        ],
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert len(body["items"]) == 1 and len(body["items"][0]["negatives"]) == 5
    post = client.post("/v1/negatives", json={"items": [{**BUS, "id": ""}], "k": 5}).json()
    assert [n["phrase"] for n in body["items"][0]["negatives"]] == [
        n["phrase"] for n in post["items"][0]["negatives"]
    ]


def test_second_identical_request_is_cached(client):
    body = {"items": [{"positives": ["zebra"]}], "k": 7}
    first = client.post("/v1/negatives", json=body).json()["items"][0]
    second = client.post("/v1/negatives", json=body).json()["items"][0]
    assert first["cached"] is False and second["cached"] is True
    assert first["negatives"] == second["negatives"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"items": []}, "items"),
        ({"items": [BUS], "k": 0}, "k"),
        ({"items": [BUS], "k": 201}, "k"),
        ({"items": [{"positives": ["cat"]}] * 1001}, "items"),
        ({"items": [{"positives": [""]}]}, "positives"),
        ({"items": [{"positives": ["   "]}]}, "positives"),
        ({"items": [{"positives": ["x" * 201]}]}, "positives"),
        ({"items": [{"positives": ["cat"], "present": ["y" * 201]}]}, "present"),
        ({"items": [{"positives": []}]}, "positives"),
        ({"items": [{"positives": ["cat"], "image": "http://x/y.jpg"}]}, "image"),
        ({"items": [{"positives": ["cat"], "colour": "red"}]}, "colour"),
        ({"items": [BUS], "miners": ["vocabulary", "nope"]}, "nope"),
        ({"items": [BUS], "min_similarity": 0.9, "max_similarity": 0.1}, "min_similarity"),
    ],
)
def test_bad_input_is_422_with_a_message(client, body, needle):
    assert needle in _error(client.post("/v1/negatives", json=body))


def test_malformed_json_is_422(client):
    msg = _error(
        client.post(
            "/v1/negatives", content=b'{"items": [', headers={"content-type": "application/json"}
        )
    )
    assert "JSON" in msg


def test_get_bad_input(client):
    _error(client.get("/v1/negatives", params={"concept": "", "k": 3}))
    _error(client.get("/v1/negatives", params={"concept": "cat", "k": 0}))
    _error(client.get("/v1/negatives", params={"concept": "cat", "k": 500}))
    assert "nope" in _error(
        client.get("/v1/negatives", params={"concept": "cat", "miners": "nope"})
    )
    _error(client.get("/v1/negatives"))


def test_one_bad_item_rejects_the_request_before_any_work(client, pipeline):
    from hardneg.service import metrics

    before = metrics.ITEMS._value.get()
    body = {"items": [{"positives": ["giraffe"]}, {"positives": ["ok"], "present": [""]}]}
    assert "items.1" in _error(client.post("/v1/negatives", json=body))
    assert metrics.ITEMS._value.get() == before


def test_health_ready_metrics_docs(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    parts = ready.json()["components"]
    assert parts["cache"]["backend"] == "lru" and parts["miner:vocabulary"]["ok"]
    client.post("/v1/negatives", json={"items": [BUS], "k": 3})
    text = client.get("/metrics").text
    for name in (
        "hardneg_requests_total",
        "hardneg_request_seconds_bucket",
        "hardneg_cache_hits_total",
        "hardneg_cache_misses_total",
        'hardneg_miner_seconds_bucket{le="0.005",miner="vocabulary"}',
        "hardneg_miner_calls_total",
    ):
        assert name in text, name
    assert 'route="/v1/negatives"' in text
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/v1/negatives" in spec["paths"]


def test_overload_gets_429_with_retry_after(pipeline):
    app = create_app(pipeline=pipeline)
    with TestClient(app) as c:
        app.state.inflight.count = app.state.inflight.limit  # as if that many were mining
        resp = c.post("/v1/negatives", json={"items": [BUS]})
        assert _error(resp, 429)
        assert resp.headers["retry-after"]
