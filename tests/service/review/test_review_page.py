"""The review page's HTML and errors without a browser."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from hardneg.miners.types import Kind, Negative
from hardneg.service.app import create_app
from hardneg.service.review.page import ReviewItem, render


def test_phrases_and_annotators_are_escaped():
    neg = Negative(
        phrase='<script>alert("x")</script>',
        score=0.5,
        for_positive="bus",
        kind=Kind.type,
        sources=["llm"],
    )
    item = ReviewItem(0, 2, "img-1", ["bus"], 'x" onerror="alert(1)', [neg], {}, "a&b </script>")
    html = render(item, "/review", "/v1/verdicts")
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    assert 'onerror="alert' not in html
    state = html.split('id="state">')[1].split("</script>")[0]
    assert (
        json.loads(state.replace("<\\/", "</"))["next"]
        == "/review?i=1&annotator=a%26b+%3C%2Fscript%3E"
    )


def test_queue_errors_are_404_in_the_one_shape(make_pipeline, tmp_path):
    queue = tmp_path / "q.jsonl"
    queue.write_text(json.dumps({"id": "z", "positives": ["zebra"]}) + "\n")
    pipeline = make_pipeline(verdict_store_path=tmp_path / "v.sqlite", review_items=queue)
    with TestClient(create_app(pipeline=pipeline)) as client:
        page = client.get("/review")
        assert page.status_code == 200 and "item 1 of 1" in page.text
        missing = client.get("/review", params={"i": 5})
        assert missing.status_code == 404 and "has 1 items" in missing.json()["error"]["message"]
        adhoc = client.get("/review", params={"positive": "violin", "item_id": "v-1"})
        assert adhoc.status_code == 200 and "violin" in adhoc.text
        queue.write_text('{"id": "z", "positives": []}\n')
        bad = client.get("/review")
        assert bad.status_code == 422 and "q.jsonl:1" in bad.json()["error"]["message"]
