"""Client batching, retries and timeouts against the real app; the PyTorch and Hugging Face
loader helpers, and the runnable examples of docs/loaders.md, on a tiny dataset."""

from __future__ import annotations

import contextlib
import io
import re
import threading
import time
from pathlib import Path

import httpx
import pytest

from hardneg.clients import AsyncClient, Client, InvalidRequest, TransportError
from hardneg.clients.loaders import negatives_map, prefetch_negatives

DOCS = Path(__file__).resolve().parents[2] / "docs" / "loaders.md"
CONCEPTS = ["zebra", "violin", "teapot", "bicycle", "lamp", "yellow school bus", "piano"]


def counting_client(url: str, **kw) -> tuple[Client, list[str]]:
    seen: list[str] = []
    http = httpx.Client(base_url=url, event_hooks={"request": [lambda r: seen.append(r.url.path)]})
    return Client(url, http=http, **kw), seen


def test_sync_batching_keeps_order_and_request_size(server):
    _, url = server
    client, seen = counting_client(url)
    with client:
        items = [{"id": f"i{n}", "positives": [c]} for n, c in enumerate(CONCEPTS)]
        got = list(client.negatives_batched(items, batch_size=3, k=4))
    assert [r.id for r in got] == [f"i{n}" for n in range(7)]
    assert all(len(r.negatives) == 4 for r in got)
    assert seen == ["/v1/negatives"] * 3  # 3 + 3 + 1 items


async def test_async_batching_with_requests_in_flight(server):
    _, url = server
    items = [{"id": c, "positives": [c]} for c in CONCEPTS]
    async with AsyncClient(url, max_connections=2) as c:
        got = [r async for r in c.negatives_batched(items, batch_size=2, concurrency=2, k=3)]
    assert [r.id for r in got] == CONCEPTS


def test_429_is_retried_after_retry_after_then_answers(server):
    app, url = server
    app.state.inflight.count = app.state.inflight.limit  # full: the app answers 429
    timer = threading.Timer(0.5, lambda: setattr(app.state.inflight, "count", 0))
    timer.start()
    try:
        client, seen = counting_client(url, retries=2)
        with client:
            start = time.monotonic()
            got = client.negatives_for("zebra", k=3)
            waited = time.monotonic() - start
    finally:
        timer.join()
        app.state.inflight.count = 0
    assert len(got.negatives) == 3
    assert len(seen) == 2 and waited >= 1.0  # one 429, honoured its Retry-After: 1, then 200


def test_other_4xx_is_never_retried(server):
    _, url = server
    client, seen = counting_client(url, retries=3)
    with client, pytest.raises(InvalidRequest):
        client.negatives([{"positives": ["cat"]}], miners=["nope"])
    assert len(seen) == 1


def test_timeout_is_a_transport_error(server):
    _, url = server
    with Client(url, timeout=0.001, retries=0) as c, pytest.raises(TransportError):
        c.negatives_for("harpsichord", k=7)


def test_prefetch_runs_ahead_and_raises_service_errors(server):
    _, url = server
    asked: list[int] = []

    def to_item(ex):
        asked.append(ex["n"])
        return {"positives": [ex["concept"]]}

    examples = [{"n": n, "concept": c} for n, c in enumerate(CONCEPTS)]
    with Client(url) as c:
        pairs = prefetch_negatives(examples, c, to_item, batch_size=2, prefetch=2, k=3)
        first = next(pairs)
        deadline = time.monotonic() + 30
        while len(asked) < 6 and time.monotonic() < deadline:  # the next batches come ahead
            time.sleep(0.02)
        assert first[0]["n"] == 0 and len(asked) >= 6
        assert [ex["n"] for ex, _ in pairs] == list(range(1, 7))
        bad = prefetch_negatives(examples, c, to_item, batch_size=2, miners=["nope"])
        with pytest.raises(InvalidRequest):
            list(bad)


def test_hf_map_function_without_datasets(server):
    _, url = server
    fn = negatives_map(url, lambda row: {"positives": [row["concept"]]}, batch_size=2, k=3)
    out = fn({"concept": ["zebra", "violin", "lamp"], "id": [1, 2, 3]})
    assert [len(x) for x in out["negatives"]] == [3, 3, 3]


@pytest.mark.parametrize("needle", ["NegativesDataset", "negatives_map"])
def test_docs_examples_run(server, monkeypatch, needle):
    """The runnable examples of docs/loaders.md, as written, on their tiny datasets."""
    _, url = server
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    code = next(b for b in blocks if needle in b and "import os" in b)
    monkeypatch.setenv("HARDNEG_URL", url)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(DOCS), "exec"), {"__name__": "docs_example"})
    lines = printed.getvalue().splitlines()
    assert lines and all("[" in line for line in lines)
    if needle == "NegativesDataset":
        assert len(lines) == 2 and "torch.Size([2, 3, 8, 8])" in lines[0]
        assert lines[0].count("'") >= 2 * (2 + 5 + 5)  # labels and 5 negatives per example
