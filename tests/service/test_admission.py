"""Issue 13, failures 2, 3 and 6: admission by items in lanes, the per-request deadline, no
caching of an answer in which every miner failed, and coalesced requests counted as such."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from hardneg.miners.base import MineQuery, MinerBase, MinerContext, MinerOutput, MinerTraits
from hardneg.miners.errors import Overloaded
from hardneg.miners.types import Candidate, Kind, NegativesRequest
from hardneg.service import metrics
from hardneg.service.admission import Admission, default_slots
from hardneg.service.app import create_app


class WorkMiner(MinerBase):
    """A test miner that takes 0.2 s per positive (standing in for a CPU-bound miner)."""

    name, version = "work", "1"
    delay_s = 0.2

    def __init__(self, ctx: MinerContext) -> None:
        self.calls = 0

    async def mine(self, query: MineQuery, ctx: MinerContext) -> MinerOutput:
        self.calls += 1
        await asyncio.sleep(self.delay_s)
        phrases = (f"red {query.positive}", f"small {query.positive}")
        return MinerOutput(
            candidates=[
                Candidate(phrase=p, for_positive=query.positive, source=self.name, kind=Kind.colour)
                for p in phrases
            ]
        )


class StallMiner(MinerBase):
    """Never answers within its own (long) timeout: only the request deadline ends it."""

    name, version = "stall", "1"
    traits = MinerTraits(timeout_s=60)

    def __init__(self, ctx: MinerContext) -> None: ...

    async def mine(self, query: MineQuery, ctx: MinerContext) -> MinerOutput:
        await asyncio.sleep(60)
        return MinerOutput()


FACTORIES = {"work": WorkMiner, "stall": StallMiner}


def _request(n: int, prefix: str, miners: list[str] | None = None) -> NegativesRequest:
    items = [{"id": str(i), "positives": [f"{prefix} {i}"]} for i in range(n)]
    return NegativesRequest.model_validate(
        {"items": items, "k": 2, "min_similarity": -1.0, "miners": miners or ["work"]}
    )


@pytest.fixture
def pipe(make_pipeline):
    return make_pipeline(
        factories=FACTORIES,
        miners=["work", "stall"],
        interactive_slots=2,
        bulk_slots=2,
        request_deadline_s=1.0,
    )


async def test_bulk_work_does_not_make_an_interactive_request_wait(pipe):
    bulk = asyncio.ensure_future(pipe.mine(_request(60, "bulk thing")))  # ~6 s of bulk work
    await asyncio.sleep(0.3)
    start = time.perf_counter()
    one = await pipe.mine(_request(1, "lonely concept"))
    waited = time.perf_counter() - start
    assert one.items[0].miners["work"].status == "ok"
    assert waited < 1.0, f"an interactive request waited {waited:.1f}s behind bulk work"
    assert not bulk.done()
    bulk.cancel()
    with pytest.raises(asyncio.CancelledError):
        await bulk


async def test_items_not_requests_are_admitted_and_the_excess_gets_429():
    admission = Admission(2, 1, 2, 4, reject=True)  # interactive budget 4, bulk budget 2
    async with admission.admit(3) as lane:
        assert lane is admission.interactive
        with pytest.raises(Overloaded) as exc:
            async with admission.admit(2):
                pass
        assert exc.value.retry_after_s >= 1
        async with admission.admit(1):  # 3 + 1 fits the budget of 4
            pass
    async with admission.admit(1000) as lane:  # larger than the lane: admitted when idle
        assert lane is admission.bulk and lane.admitted == 1000
        with pytest.raises(Overloaded):
            async with admission.admit(5):  # the 1,000 items count as 1,000, not as one
                pass
        async with admission.admit(1):  # the interactive lane is untouched by bulk work
            pass


def test_default_slots_follow_the_machine():
    assert default_slots(1) == (2, 1)
    assert default_slots(2) == (2, 1)
    assert default_slots(16) == (16, 8)
    assert default_slots(0.5) == (2, 1)  # a fractional cgroup quota


async def test_http_excess_gets_429_with_retry_after(pipe):
    app = create_app(pipeline=pipe)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=30) as c:
            body = {"items": [{"positives": ["first thing"]}], "miners": ["work"], "k": 2}
            # an interactive budget of 2 items (2 slots x 1 per slot): the third is refused
            got = await asyncio.gather(
                *(
                    c.post("/v1/negatives", json={**body, "items": [{"positives": [f"t {i}"]}]})
                    for i in range(8)
                )
            )
    codes = sorted(r.status_code for r in got)
    assert codes.count(200) >= 2 and 429 in codes, codes
    refused = next(r for r in got if r.status_code == 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["type"] == "overloaded"


async def test_deadline_cuts_unfinished_miners_and_the_answer_comes(pipe):
    start = time.perf_counter()
    resp = await pipe.mine(_request(1, "stalled concept", miners=["work", "stall"]))
    took = time.perf_counter() - start
    item = resp.items[0]
    assert took < 2.0, took
    assert item.miners["stall"].status == "timeout"
    assert "HARDNEG_REQUEST_DEADLINE_S" in (item.miners["stall"].error or "")
    assert item.miners["work"].status == "ok" and item.negatives and item.degraded


async def test_an_answer_in_which_every_miner_failed_is_not_cached(pipe):
    req = _request(1, "never cached", miners=["stall"])
    first = (await pipe.mine(req)).items[0]
    assert first.miners["stall"].status == "timeout" and first.negatives == []
    again = (await pipe.mine(req)).items[0]
    assert again.cached is False  # computed again, not the failure served from the cache


async def test_a_partly_degraded_answer_lives_the_degraded_ttl(pipe):
    req = _request(1, "partly", miners=["work", "stall"])
    assert (await pipe.mine(req)).items[0].degraded
    assert (await pipe.mine(req)).items[0].cached is True  # stored, for degraded_ttl_s


async def test_coalesced_requests_are_counted_as_such(pipe):
    work = pipe.registry.miners["work"]
    before = (
        metrics.CACHE_MISSES._value.get(),
        metrics.CACHE_COALESCED._value.get(),
        metrics.CACHE_HITS._value.get(),
    )
    req = _request(1, "twenty at once")
    await asyncio.gather(*(pipe.mine(req) for _ in range(20)))
    assert work.calls == 1
    after = (
        metrics.CACHE_MISSES._value.get(),
        metrics.CACHE_COALESCED._value.get(),
        metrics.CACHE_HITS._value.get(),
    )
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (1, 19, 0)
