"""Verdicts in the full app: the lifespan opens the configured store, /metrics carries the
acceptance rates read from it, the Label Studio router is mounted under /labelstudio."""

from __future__ import annotations

from fastapi.testclient import TestClient

from hardneg.service.app import create_app


def test_metrics_and_mounts(make_pipeline, tmp_path):
    pipeline = make_pipeline(verdict_store_path=tmp_path / "verdicts.sqlite")
    with TestClient(create_app(pipeline=pipeline)) as client:
        batch = {
            "verdicts": [
                {
                    "id": "1",
                    "item_id": "a",
                    "positive": "zebra",
                    "negative": "okapi",
                    "verdict": "absent",
                    "sources": ["llm"],
                    "kind": "type",
                },
                {
                    "id": "2",
                    "item_id": "b",
                    "positive": "zebra",
                    "negative": "horse",
                    "verdict": "not_similar",
                    "sources": ["llm"],
                    "kind": "type",
                },
            ]
        }
        assert client.post("/v1/verdicts", json=batch).json()["stored"] == 2
        text = client.get("/metrics").text
        assert 'hardneg_verdict_acceptance{kind="all",miner="llm"} 0.5' in text
        assert 'hardneg_verdicts{kind="type",miner="all",verdict="not_similar"} 1.0' in text
        assert client.get("/v1/stats").json()["verdicts"]["by_kind"]["type"]["judged"] == 2
        assert client.get("/labelstudio/health").json()["status"] == "UP"
    assert (tmp_path / "verdicts.sqlite").exists()
