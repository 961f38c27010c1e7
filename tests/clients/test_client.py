"""The HTTP client against the real app: a real uvicorn server on a free loopback port."""

from __future__ import annotations

import time

import pytest

import hardneg.clients as clients
from hardneg.clients import AsyncClient, Client, InvalidRequest, Overloaded, TransportError
from tests.procs import free_port


def test_public_names_are_pinned():
    assert sorted(clients.__all__) == [
        "APIError",
        "AsyncClient",
        "Client",
        "HardnegError",
        "InvalidRequest",
        "ItemResult",
        "Kind",
        "MinerStatus",
        "Negative",
        "NegativesRequest",
        "NegativesResponse",
        "Overloaded",
        "RequestItem",
        "ServiceUnavailable",
        "TransportError",
    ]
    assert issubclass(Overloaded, clients.APIError) and issubclass(
        clients.APIError, clients.HardnegError
    )


def test_client_import_stays_light():
    import subprocess
    import sys

    code = (
        "import sys, hardneg.clients; heavy = {'torch', 'faiss', 'fastapi', 'open_clip'}"
        " & set(sys.modules); print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_sync_client_round_trip(server):
    _, url = server
    with Client(url) as c:
        resp = c.negatives([{"id": "a", "positives": ["yellow school bus"]}], k=5)
        assert resp.items[0].id == "a" and len(resp.items[0].negatives) == 5
        one = c.negatives_for("yellow school bus", present=["road"], k=5)
        assert len(one.negatives) == 5
        with pytest.raises(InvalidRequest) as exc:
            c.negatives([{"positives": ["cat"]}], miners=["nope"])
        assert exc.value.status == 422 and "nope" in exc.value.message


def test_overload_is_retried_then_raised(server):
    app, url = server
    app.state.inflight.count = app.state.inflight.limit
    try:
        with Client(url, retries=1) as c:
            start = time.monotonic()
            with pytest.raises(Overloaded) as exc:
                c.negatives_for("zebra", k=3)
            assert exc.value.retry_after == 1.0 and time.monotonic() - start >= 1.0
    finally:
        app.state.inflight.count = 0


async def test_async_client(server):
    _, url = server
    async with AsyncClient(url) as c:
        resp = await c.negatives([{"positives": ["violin"]}], k=4)
        assert len(resp.items[0].negatives) == 4
        assert (await c.ready())["status"] in {"ok", "degraded"}


def test_unreachable_service_is_a_transport_error():
    with Client(f"http://127.0.0.1:{free_port()}", timeout=2) as c, pytest.raises(TransportError):
        c.negatives_for("cat")


def test_other_endpoints_sync(server):
    """Verdicts, stats and the round listings through the client, on the real app."""
    _, url = server
    verdict = {"id": "v-client-1", "item_id": "img-c", "positive": "yellow school bus",
               "negative": "yellow taxi", "verdict": "absent", "sources": ["vocabulary"]}  # fmt: skip
    with Client(url) as c:
        wrote = c.post_verdicts([verdict])
        assert wrote["ids"] == ["v-client-1"] and wrote["stored"] + wrote["duplicates"] == 1
        listed = c.verdicts(item_id="img-c")["verdicts"]
        assert [v["negative"] for v in listed] == ["yellow taxi"]
        exported = c.export_verdicts()
        assert any(v["id"] == "v-client-1" for v in exported)
        assert c.stats()["verdicts"]["by_miner"]["vocabulary"]["counts"]["absent"] >= 1
        assert "rounds" in c.false_positive_rounds() and "rounds" in c.verify_rounds()
        assert "held" in c.verify_held(limit=5)
        assert c.delete_verdict("v-client-1") == {"deleted": True}
        with pytest.raises(InvalidRequest) as exc:
            c.delete_verdict("v-client-1")
        assert exc.value.status == 404


async def test_other_endpoints_async(server):
    _, url = server
    async with AsyncClient(url) as c:
        wrote = await c.post_verdicts(
            [
                {
                    "id": "v-client-2",
                    "item_id": "img-d",
                    "positive": "violin",
                    "negative": "viola",
                    "verdict": "present",
                }
            ]
        )
        assert wrote["ids"] == ["v-client-2"]
        listed = await c.verdicts(positive="violin")
        assert [v["id"] for v in listed["verdicts"]] == ["v-client-2"]
        with pytest.raises(InvalidRequest):
            await c.verify_round("no-such-round")
