"""End to end through the app and the real pipeline (whose item steps include the verdict
steps): a negative judged present never comes back for that item, cached answers included; one
rejected for a positive on N other items is demoted, then dropped, for every item."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hardneg.miners.knowledge.normalize import match_key
from hardneg.service.app import create_app

POSITIVE = "yellow school bus"


def _mine(client, item_id: str) -> dict:
    body = {"items": [{"id": item_id, "positives": [POSITIVE]}], "k": 12}
    resp = client.post("/v1/negatives", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()["items"][0]


def _judge(client, n: int, item_id: str, negative: str, verdict: str) -> None:
    body = {
        "id": f"e2e-{n}",
        "item_id": item_id,
        "positive": POSITIVE,
        "negative": negative,
        "verdict": verdict,
    }
    assert client.post("/v1/verdicts", json=body).status_code == 200


@pytest.mark.slow
def test_present_never_again_for_the_item_then_demoted_and_dropped_elsewhere(make_pipeline):
    pipeline = make_pipeline(verdict_demote_items=2, verdict_drop_items=3)
    with TestClient(create_app(pipeline=pipeline)) as client:
        first = _mine(client, "img-1")
        phrases = [n["phrase"] for n in first["negatives"]]
        assert len(phrases) == 12
        seen, rejected = phrases[0], phrases[1]

        _judge(client, 1, "img-1", seen, "present")
        for _ in range(2):  # the positive's result is cached now: steps still apply
            again = _mine(client, "img-1")
            assert match_key(seen) not in {match_key(n["phrase"]) for n in again["negatives"]}
            assert again["cached"] is True
            assert again["miners"]["verdicts_item"]["note"] == "1 judged present on this item"
        assert seen in [n["phrase"] for n in _mine(client, "img-2")["negatives"]]

        _judge(client, 2, "other-1", rejected, "not_similar")
        _judge(client, 3, "other-2", rejected, "implausible")
        demoted = _mine(client, "img-3")["negatives"]
        order = [n["phrase"] for n in demoted]
        assert rejected not in order[:11] or order.index(rejected) > phrases.index(rejected)
        if rejected in order:
            (neg,) = [n for n in demoted if n["phrase"] == rejected]
            assert neg["evidence"]["verdicts"]["action"] == "demoted"
        assert order[0] == seen  # judged present on img-1 only: first as ever on img-3

        _judge(client, 4, "other-3", rejected, "present")
        dropped = _mine(client, "img-4")
        assert rejected not in [n["phrase"] for n in dropped["negatives"]]
        assert len(dropped["negatives"]) == 12  # a deeper negative takes its place
        assert "1 dropped" in dropped["miners"]["verdicts_positive"]["note"]

        _judge(client, 5, "other-4", rejected, "absent")  # absent raises it again
        back = _mine(client, "img-5")["negatives"]
        assert rejected in [n["phrase"] for n in back]
