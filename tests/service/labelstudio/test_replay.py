"""The Label Studio ML backend protocol, replayed from the payloads a real Label Studio 1.23 sent
(recorded by test_real_label_studio.py into recorded/exchanges.json): the same requests get
answers of the same shape, and the webhook events store, replace and delete the same verdicts."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from hardneg.service.app import create_app
from tests.service.labelstudio.conftest import RECORDED

EXCHANGES = json.loads(RECORDED.read_text())


def _of(path: str) -> list[dict]:
    return [e for e in EXCHANGES if e["path"] == path]


@pytest.fixture(scope="module")
def client(make_pipeline, tmp_path_factory):
    store = tmp_path_factory.mktemp("ls-replay") / "verdicts.sqlite"
    with TestClient(create_app(pipeline=make_pipeline(verdict_store_path=store))) as c:
        yield c


def test_health_and_setup_answer_as_recorded(client):
    for e in _of("/health")[:1] + _of("/setup")[:1]:
        resp = client.request(e["method"], "/labelstudio" + e["path"], json=e["request"])
        assert resp.status_code == e["status"] == 200
        assert resp.json() == e["response"]


def test_predict_gives_one_pre_annotation_per_task(client):
    (e,) = _of("/predict")
    resp = client.post("/labelstudio/predict", json=e["request"])
    assert resp.status_code == 200
    results = resp.json()["results"]
    assert len(results) == len(e["request"]["tasks"]) == len(e["response"]["results"])
    for got, recorded in zip(results, e["response"]["results"], strict=True):
        assert got["model_version"] == recorded["model_version"]
        (mine,), (theirs,) = got["result"], recorded["result"]
        assert {k: mine[k] for k in ("from_name", "to_name", "type")} == {
            k: theirs[k] for k in ("from_name", "to_name", "type")
        }
        assert mine["value"]["taxonomy"] and all(
            p[1] == "absent" for p in mine["value"]["taxonomy"]
        )


def test_webhook_events_in_order_store_replace_and_delete_verdicts(client):
    events = _of("/webhook")
    assert [e["request"]["action"] for e in events] == [
        "TASKS_CREATED",
        "ANNOTATION_CREATED",
        "ANNOTATION_UPDATED",
        "ANNOTATIONS_DELETED",
    ]
    for e in events:
        resp = client.post("/labelstudio/webhook", json=e["request"])
        assert resp.status_code == e["status"] == 201
        assert resp.json() == e["response"]
        item = e["request"].get("task", {}).get("data", {}).get("item_id", "img-1")
        stored = client.get("/v1/verdicts", params={"item_id": item}).json()["verdicts"]
        if e["request"]["action"] in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED"):
            (result,) = e["request"]["annotation"]["result"]
            want = sorted((p[0], p[1]) for p in result["value"]["taxonomy"])
            assert sorted((v["negative"], v["verdict"]) for v in stored) == want
            assert {v["annotator"] for v in stored} == {"label-studio:1"}
        elif e["request"]["action"] == "ANNOTATIONS_DELETED":
            assert stored == []


def test_redelivered_event_stores_nothing_twice(client):
    created = _of("/webhook")[1]["request"]
    first = client.post("/labelstudio/webhook", json=created).json()
    again = client.post("/labelstudio/webhook", json=created).json()
    assert again["stored"] == 0 and again["duplicates"] == first["stored"] + first["duplicates"]


def test_a_label_config_without_a_control_is_422(client):
    (e,) = _of("/predict")
    bad = {**e["request"], "label_config": '<View><Image name="i" value="$image"/></View>'}
    resp = client.post("/labelstudio/predict", json=bad)
    assert resp.status_code == 422 and "no Choices or Taxonomy" in resp.json()["error"]["message"]
    setup = {**_of("/setup")[0]["request"], "schema": "<View"}
    resp = client.post("/labelstudio/setup", json=setup)
    assert resp.status_code == 422 and "not valid XML" in resp.json()["error"]["message"]
