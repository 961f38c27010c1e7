"""The LLM miner against a fake OpenAI-compatible server standing in for vLLM.

The fake (tests/fakes/openai_server.py) is a real HTTP server on a loopback port that speaks
vLLM's chat-completions wire format, including its failures. Caching runs against real Redis.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence

import pytest

from hardneg.miners.base import MineQuery, MinerContext, build_registry
from hardneg.miners.errors import CircuitOpen
from hardneg.miners.llm import LLMMiner
from hardneg.miners.llm.client import (
    MAX_RETRIES,
    LLMError,
    LLMHTTPError,
    LLMTimeout,
    normalise_base_url,
)
from hardneg.miners.llm.prompt import (
    PROMPT_HASH,
    PROMPT_VERSION,
    SYSTEM_PROMPT,
    parse_reply,
    salvage,
)
from hardneg.miners.resilience import CircuitBreaker
from hardneg.miners.resilience import parse_retry_after as retry_after_s
from hardneg.miners.types import Kind
from hardneg.service.settings import Settings
from tests.fakes import openai_server as fake
from tests.procs import free_port


def settings_for(url: str | None, **kw: object) -> Settings:
    return Settings(llm_url=url, llm_model="test/model-8b", llm_timeout_s=2.0, **kw)


class Sleeps:
    """Records the pauses the client asks for instead of sleeping them (no timing in tests)."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)


@pytest.fixture
async def miner(llm: fake.FakeLLM) -> AsyncIterator[LLMMiner]:
    m = LLMMiner(MinerContext(settings=settings_for(llm.url)))
    m.client.sleep = Sleeps()
    yield m
    await m.aclose()


def ctx_of(m: LLMMiner, cache: object = None) -> MinerContext:
    return MinerContext(settings=settings_for(m.client.base_url), cache=cache)


QUERY = MineQuery(positive="yellow school bus", present=["road", "Red School Bus"], k=6)


def test_disabled_with_reason_when_no_url() -> None:
    reg = build_registry(MinerContext(settings=settings_for(None)), factories={"llm": LLMMiner})
    assert "llm" not in reg.miners
    assert reg.disabled["llm"].startswith("no LLM configured: set HARDNEG_LLM_URL")


async def test_proposals_become_candidates_with_evidence(miner: LLMMiner, llm: fake.FakeLLM):
    out = await miner.mine(QUERY, ctx_of(miner))
    sent = json.loads(llm.requests[0].body["messages"][-1]["content"])
    assert sent == {
        "positive": "yellow school bus",
        "present": ["red school bus", "road"],
        "avoid": [],
        "count": 6,
    }
    expected = [p["phrase"] for p in fake.propose(sent) if p["phrase"] != "red school bus"]
    assert [c.phrase for c in out.candidates] == expected
    assert out.note == "1 proposals named the positive or a present/excluded concept"
    first = out.candidates[0]
    assert (first.source, first.for_positive, first.kind) == ("llm", QUERY.positive, Kind.colour)
    assert first.evidence == {
        "model": "test/model-8b",
        "prompt_version": PROMPT_VERSION,
        "prompt_hash": PROMPT_HASH,
        "shared_attribute": "type: school bus",
    }
    assert any(c.kind is Kind.material for c in out.candidates)
    assert PROMPT_HASH[:8] in miner.version and "test/model-8b" in miner.version


async def test_request_layout_schema_and_shared_prefix(miner: LLMMiner, llm: fake.FakeLLM):
    await miner.mine(QUERY, ctx_of(miner))
    await miner.mine(MineQuery(positive="black umbrella", exclude=["parasol"], k=3), ctx_of(miner))
    a, b = (r.body for r in llm.requests)
    assert a["model"] == "test/model-8b" and a["seed"] == 0
    fmt = a["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["type"] == "object" and schema["required"] == ["negatives"]
    assert schema["properties"]["negatives"]["maxItems"] == 6  # the count asked for
    assert set(schema["properties"]["negatives"]["items"]["required"]) == {
        "phrase",
        "shared_attribute",
        "kind",
    }
    assert a["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    # Everything but the last message is identical: vLLM's prefix cache reuses it.
    assert a["messages"][:-1] == b["messages"][:-1]
    assert a["messages"][-1] != b["messages"][-1]
    assert json.loads(b["messages"][-1]["content"])["avoid"] == ["parasol"]
    assert b["max_tokens"] < a["max_tokens"]  # budget follows the count asked for
    assert "authorization" not in llm.requests[0].headers


async def test_requests_in_flight_stay_within_the_limit(llm: fake.FakeLLM):
    llm.reset(default=fake.stall(0.1))
    m = LLMMiner(MinerContext(settings=settings_for(llm.url, llm_max_concurrency=3)))
    queries = [MineQuery(positive=f"bus {i}", k=2) for i in range(10)]
    try:
        outs = await asyncio.gather(*(m.mine(q, ctx_of(m)) for q in queries))
    finally:
        await m.aclose()
    assert [o.candidates[0].for_positive for o in outs] == [q.positive for q in queries]
    assert len(llm.requests) == 10 and llm.max_in_flight == 3


async def test_api_key_is_sent_as_bearer(llm: fake.FakeLLM):
    m = LLMMiner(MinerContext(settings=settings_for(llm.url, llm_api_key="s3cret")))
    try:
        await m.mine(QUERY, ctx_of(m))
    finally:
        await m.aclose()
    assert llm.requests[0].headers["authorization"] == "Bearer s3cret"


async def test_429_retry_after_is_honoured(miner: LLMMiner, llm: fake.FakeLLM):
    llm.script(fake.rate_limited("3"))
    out = await miner.mine(QUERY, ctx_of(miner))
    assert len(out.candidates) == 5 and len(llm.requests) == 2
    assert miner.client.sleep.asked == [3.0]


async def test_429_persisting_fails_after_retries(miner: LLMMiner, llm: fake.FakeLLM):
    llm.reset(default=fake.rate_limited("1"))
    with pytest.raises(LLMError, match=f"returned 429 .* after {MAX_RETRIES} retries"):
        await miner.mine(QUERY, ctx_of(miner))
    assert len(llm.requests) == MAX_RETRIES + 1
    assert miner.client.sleep.asked == [1.0] * MAX_RETRIES


async def test_retry_after_over_cap_fails_at_once(miner: LLMMiner, llm: fake.FakeLLM):
    llm.reset(default=fake.rate_limited("600"))
    with pytest.raises(LLMError, match="Retry-After 600s is over the 30s cap"):
        await miner.mine(QUERY, ctx_of(miner))
    assert len(llm.requests) == 1


async def test_500_is_retried_with_backoff(miner: LLMMiner, llm: fake.FakeLLM):
    llm.script(fake.status(500), fake.status(503))
    out = await miner.mine(QUERY, ctx_of(miner))
    assert len(out.candidates) == 5 and len(llm.requests) == 3
    first, second = miner.client.sleep.asked
    assert 0 < first < second  # exponential (jittered within non-overlapping ranges)


async def test_500_persisting_is_a_clear_error(miner: LLMMiner, llm: fake.FakeLLM):
    llm.reset(default=fake.status(500, "CUDA out of memory"))
    with pytest.raises(LLMError, match=r"returned 500 \(CUDA out of memory\) after 2 retries"):
        await miner.mine(QUERY, ctx_of(miner))


async def test_4xx_is_not_retried(miner: LLMMiner, llm: fake.FakeLLM):
    llm.reset(default=fake.status(404, "The model `test/model-8b` does not exist."))
    with pytest.raises(LLMHTTPError, match="returned 404: The model `test/model-8b` does not"):
        await miner.mine(QUERY, ctx_of(miner))
    assert len(llm.requests) == 1


async def test_stall_past_timeout_is_a_timeout(llm: fake.FakeLLM):
    llm.reset(default=fake.stall(30))
    m = LLMMiner(MinerContext(settings=settings_for(llm.url)))
    m.client.timeout_s = 0.3
    try:
        with pytest.raises(LLMTimeout, match=r"did not answer within 0.3s") as err:
            await m.mine(QUERY, ctx_of(m))
    finally:
        await m.aclose()
    assert isinstance(err.value, TimeoutError)
    assert len(llm.requests) == 1  # a stalled server is not hit again


async def test_unreachable_server_is_a_clear_error():
    m = LLMMiner(MinerContext(settings=settings_for(f"http://127.0.0.1:{free_port()}/v1")))
    m.client.sleep = Sleeps()
    try:
        with pytest.raises(LLMError, match=r"cannot reach LLM server at .* after 2 retries"):
            await m.mine(QUERY, ctx_of(m))
    finally:
        await m.aclose()


async def test_invalid_json_is_retried_once(miner: LLMMiner, llm: fake.FakeLLM):
    llm.script(fake.invalid_json())
    out = await miner.mine(QUERY, ctx_of(miner))
    assert len(out.candidates) == 5 and len(llm.requests) == 2


async def test_invalid_json_twice_is_an_error(miner: LLMMiner, llm: fake.FakeLLM):
    llm.reset(default=fake.invalid_json())
    with pytest.raises(LLMError, match="unparseable JSON after one retry: Expecting value"):
        await miner.mine(QUERY, ctx_of(miner))
    assert len(llm.requests) == 2


async def test_truncated_reply_is_retried_with_more_tokens(miner: LLMMiner, llm: fake.FakeLLM):
    llm.script(fake.truncated())
    out = await miner.mine(QUERY, ctx_of(miner))
    assert len(out.candidates) == 5
    first, second = (r.body["max_tokens"] for r in llm.requests)
    assert second == 2 * first


async def test_truncated_twice_keeps_the_complete_entries(miner: LLMMiner, llm: fake.FakeLLM):
    llm.reset(default=fake.truncated(keep=0.5))
    out = await miner.mine(QUERY, ctx_of(miner))
    whole = fake.propose(json.loads(llm.requests[1].body["messages"][-1]["content"]))
    cut = json.dumps({"negatives": whole})[: len(json.dumps({"negatives": whole})) // 2]
    complete = [e["phrase"] for e in whole if json.dumps(e) + "," in cut]
    assert 0 < len(complete) < len(whole)
    assert [c.phrase for c in out.candidates] == [p for p in complete if p != "red school bus"]
    assert (out.note or "").startswith("reply cut off at max_tokens twice: kept its complete")


async def test_truncated_twice_with_nothing_whole_is_an_error(miner: LLMMiner, llm: fake.FakeLLM):
    llm.reset(default=fake.content('{"negatives": [{"phrase": "red sch', "length"))
    with pytest.raises(LLMError, match="truncated reply after one retry: finish_reason=length"):
        await miner.mine(QUERY, ctx_of(miner))


async def test_invalid_entries_are_dropped_and_counted(miner: LLMMiner, llm: fake.FakeLLM):
    entries = [
        {"phrase": "yellow taxi", "shared_attribute": "colour: yellow", "kind": "type"},
        {"phrase": "school van", "shared_attribute": "use", "kind": "color"},
        {"phrase": "red school bus", "shared_attribute": "type", "kind": "colour"},
        {"phrase": "Yellow  Taxi", "shared_attribute": "colour", "kind": "type"},
        {"phrase": "yellow tram", "shared_attribute": "colour", "kind": "vibe"},
        {
            "phrase": "yellow taxi that is parked next to a road in the city",
            "kind": "type",
            "shared_attribute": "colour",
        },
        {"phrase": "minibus", "kind": "type"},
        {"phrase": "", "shared_attribute": "x", "kind": "type"},
        "yellow truck",
    ]
    llm.script(fake.content(json.dumps({"negatives": entries})))
    out = await miner.mine(QUERY, ctx_of(miner))
    assert [(c.phrase, c.kind) for c in out.candidates] == [
        ("yellow taxi", Kind.type),
        ("school van", Kind.colour),
        ("yellow tram", Kind.other),
    ]
    assert out.note == (
        "4 invalid entries dropped; 1 duplicates dropped; "
        "1 proposals named the positive or a present/excluded concept"
    )


async def test_empty_answer_says_so(miner: LLMMiner, llm: fake.FakeLLM):
    llm.script(fake.content('{"negatives": []}'))
    out = await miner.mine(QUERY, ctx_of(miner))
    assert out.candidates == [] and out.note == "the model proposed nothing usable"


async def test_llama_cpp_style_server_gets_json_object(llm: fake.FakeLLM):
    """llama-cpp-python rejects response_format json_schema with 422; fall back, remember it."""
    llm.reset(default=fake.reject_json_schema())
    m = LLMMiner(MinerContext(settings=settings_for(llm.url)))
    try:
        out = await m.mine(QUERY, ctx_of(m))
        await m.mine(MineQuery(positive="green bottle", k=2), ctx_of(m))
    finally:
        await m.aclose()
    assert len(out.candidates) == 5
    types = [r.body["response_format"]["type"] for r in llm.requests]
    assert types == ["json_schema", "json_object", "json_object"]
    assert llm.requests[1].body["response_format"]["schema"]["required"] == ["negatives"]


async def test_check_reports_reachability_and_served_model(miner: LLMMiner, llm: fake.FakeLLM):
    llm.models = ["test/model-8b"]
    ok, detail = await miner.check()
    assert ok and detail == f"{llm.url} serves test/model-8b (circuit closed)"
    llm.models = ["other/model"]
    ok, detail = await miner.check()
    assert not ok and "does not serve 'test/model-8b'; it serves ['other/model']" in detail
    down = LLMMiner(MinerContext(settings=settings_for(f"http://127.0.0.1:{free_port()}")))
    ok, detail = await down.check()
    await down.aclose()
    assert not ok and detail.startswith("cannot reach LLM server at http://127.0.0.1:")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_circuit_breaker_opens_then_probes(miner: LLMMiner, llm: fake.FakeLLM):
    clock = Clock()
    miner.breaker = CircuitBreaker(failures=2, cooldown_s=30, clock=clock)
    llm.reset(default=fake.status(502, "bad gateway"))
    for _ in range(2):
        with pytest.raises(LLMError, match="returned 502"):
            await miner.mine(QUERY, ctx_of(miner))
    sent = len(llm.requests)
    with pytest.raises(
        CircuitOpen,
        match=r"open after 2 consecutive failures \(last: LLM server"
        r" returned 502.*next try in 30s",
    ):
        await miner.mine(QUERY, ctx_of(miner))
    assert len(llm.requests) == sent  # nothing was sent while open
    clock.now += 31
    assert miner.breaker.state == "half-open"
    llm.reset()
    out = await miner.mine(QUERY, ctx_of(miner))
    assert len(out.candidates) == 5 and miner.breaker.state == "closed"


def test_breaker_probe_failure_reopens() -> None:
    clock = Clock()
    b = CircuitBreaker(failures=3, cooldown_s=10, clock=clock)
    for _ in range(3):
        b.before_call()
        b.failure("boom")
    assert b.state == "open"
    clock.now += 11
    b.before_call()  # the probe
    with pytest.raises(CircuitOpen, match="a probe call is in flight"):
        b.before_call()
    b.failure("still down")
    assert b.state == "open"
    clock.now += 11
    b.before_call()
    b.release()  # a cancelled probe frees the slot
    b.before_call()
    b.success()
    assert b.state == "closed"


class RedisCache:
    """CacheLike over a real Redis (what the service's cache does, minus the extras)."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self.r = aioredis.Redis.from_url(url)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return [v if isinstance(v, bytes) else None for v in await self.r.mget(list(keys))]

    async def set_many(self, items: dict[str, bytes], ttl_s: int | None = None) -> None:
        for k, v in items.items():
            await self.r.set(k, v, ex=ttl_s)


async def test_outputs_are_cached_by_model_prompt_and_item(
    miner: LLMMiner, llm: fake.FakeLLM, redis_url: str
):
    cache = RedisCache(redis_url)
    llm.script(
        fake.content(
            json.dumps(
                {
                    "negatives": [
                        {"phrase": "yellow taxi", "shared_attribute": "colour", "kind": "type"},
                        {"phrase": "bad", "kind": "type"},
                    ]
                }
            )
        )
    )
    first = await miner.mine(QUERY, ctx_of(miner, cache))
    again = await miner.mine(
        QUERY.model_copy(update={"present": ["ROAD", "red school bus"]}), ctx_of(miner, cache)
    )
    assert len(llm.requests) == 1  # same normalised item: served from Redis
    assert again == first and first.note == "1 invalid entries dropped"
    keys = await cache.r.keys("llm:*")
    assert len(keys) == 1 and 0 < await cache.r.ttl(keys[0]) <= miner.cache_ttl_s
    await miner.mine(QUERY.model_copy(update={"positive": "yellow taxi"}), ctx_of(miner, cache))
    other = LLMMiner(MinerContext(settings=Settings(llm_url=llm.url, llm_model="other/model")))
    try:
        await other.mine(QUERY, ctx_of(other, cache))
    finally:
        await other.aclose()
    assert len(llm.requests) == 3  # another item, another model: misses


async def test_cache_failure_costs_a_call_not_the_answer(miner: LLMMiner, llm: fake.FakeLLM):
    class Broken:
        async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
            raise ConnectionError("redis down")

        async def set_many(self, items: dict[str, bytes], ttl_s: int | None = None) -> None:
            raise ConnectionError("redis down")

    out = await miner.mine(QUERY, ctx_of(miner, Broken()))
    assert len(out.candidates) == 5


def test_salvage_reads_whole_entries_before_the_cut() -> None:
    cut = '{"negatives": [{"phrase": "red bus", "shared_attribute": "type", "kind": "colour"},'
    cut += ' {"phrase": 7}, {"phrase": "blue b'
    proposals, invalid = salvage(cut)
    assert [p.phrase for p in proposals] == ["red bus"] and invalid == 1
    assert salvage('{"negatives": [{"phr') == ([], 0) and salvage(None) == ([], 0)


def test_parse_reply_accepts_fenced_json_and_bare_lists() -> None:
    entry = {"phrase": "green apple", "shared_attribute": "shape", "kind": "colour"}
    assert (
        parse_reply("```json\n" + json.dumps({"negatives": [entry]}) + "\n```")[0][0].phrase
        == "green apple"
    )
    assert parse_reply(json.dumps([entry, {"phrase": 3}]))[1] == 1


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("http://vllm:8000", "http://vllm:8000/v1"),
        ("http://vllm:8000/v1/", "http://vllm:8000/v1"),
        ("https://gw.example/openai/v1", "https://gw.example/openai/v1"),
    ],
)
def test_base_url_normalised(url: str, base: str) -> None:
    assert normalise_base_url(url) == base


def test_retry_after_forms() -> None:
    assert retry_after_s("2") == 2.0
    assert retry_after_s("soon") is None and retry_after_s(None) is None
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a past date: no wait
