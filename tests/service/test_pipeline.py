"""The orchestrator: miners degrade answers (never fail them), merging, Redis cache behaviour."""

from __future__ import annotations

import asyncio

import pytest

from hardneg.miners.base import (
    MineQuery,
    MinerBase,
    MinerContext,
    MinerOutput,
    MinerTraits,
    MinerUnavailable,
    Related,
)
from hardneg.miners.types import Candidate, Kind, Negative, NegativesRequest
from hardneg.miners.vocabulary import VocabularyMiner
from hardneg.service.cache import RedisCache
from hardneg.service.pipeline import UnknownMiner
from tests.procs import RedisServer


class EchoMiner(MinerBase):
    """A test miner proposing fixed look-alikes (standing in for any plugin)."""

    name, version = "echo", "1"

    def __init__(self, ctx: MinerContext) -> None:
        self.calls = 0

    async def mine(self, query: MineQuery, ctx: MinerContext) -> MinerOutput:
        self.calls += 1
        return MinerOutput(
            candidates=[
                Candidate(
                    phrase=p,
                    for_positive=query.positive,
                    source=self.name,
                    kind=Kind.colour,
                    evidence={"why": "test"},
                )
                for p in ("red school bus", "Minivan", "school_bus", "bus")
            ]
        )


class BrokenMiner(MinerBase):
    name, version = "broken", "1"

    def __init__(self, ctx: MinerContext) -> None: ...

    async def mine(self, query: MineQuery, ctx: MinerContext) -> MinerOutput:
        raise ConnectionError("upstream refused the connection")


class SlowMiner(MinerBase):
    name, version = "slow", "1"
    traits = MinerTraits(timeout_s=0.2)

    def __init__(self, ctx: MinerContext) -> None: ...

    async def mine(self, query: MineQuery, ctx: MinerContext) -> MinerOutput:
        await asyncio.sleep(5)
        return MinerOutput()


class AliasSource(MinerBase):
    """A knowledge source (as the ontology miner is) claiming 'minivan' is an alias of 'bus'."""

    name, version = "aliases", "1"

    def __init__(self, ctx: MinerContext) -> None: ...

    async def mine(self, query: MineQuery, ctx: MinerContext) -> MinerOutput:
        return MinerOutput(note="knows no candidates")

    async def related(self, phrases, ctx):
        return {p: Related(synonyms={"minivan"}) for p in phrases if p == "bus"}


def _unavailable(ctx: MinerContext):
    raise MinerUnavailable("no server configured")


FACTORIES = {
    "vocabulary": VocabularyMiner,
    "echo": EchoMiner,
    "broken": BrokenMiner,
    "slow": SlowMiner,
    "aliases": AliasSource,
    "off": _unavailable,
}


def _req(**kw) -> NegativesRequest:
    body = {"items": [{"id": "a", "positives": ["yellow school bus"], "present": ["road"]}]}
    return NegativesRequest.model_validate({**body, **kw})


@pytest.fixture(scope="module")
def pipe(make_pipeline):
    return make_pipeline(factories=FACTORIES, miners=None)


async def test_failing_and_slow_miners_degrade_but_answers_come(pipe):
    resp = await pipe.mine(_req(k=20))
    item = resp.items[0]
    st = item.miners
    assert st["broken"].status == "error" and "refused" in (st["broken"].error or "")
    assert st["slow"].status == "timeout" and st["slow"].ms < 2000
    assert st["off"].status == "disabled" and st["off"].error == "no server configured"
    assert st["vocabulary"].status == "ok" and st["echo"].status == "ok", st
    assert item.degraded is True and len(item.negatives) == 20


async def test_sources_are_merged_and_guard_applies_to_every_miner(pipe):
    resp = await pipe.mine(_req(k=200, miners=["vocabulary", "echo"], min_similarity=-1.0))
    negs = {n.phrase: n for n in resp.items[0].negatives}
    assert "school bus" not in negs and "bus" not in negs
    assert negs["minivan"].sources == ["echo", "vocabulary"]
    assert set(negs["minivan"].evidence) == {"echo", "vocabulary"}
    assert negs["red school bus"].kind == Kind.colour
    assert resp.items[0].degraded is False


async def test_knowledge_sources_feed_the_guard(pipe, make_pipeline):
    req = NegativesRequest.model_validate(
        {
            "items": [{"positives": ["bus"]}],
            "k": 200,
            "min_similarity": -1.0,
            "miners": ["vocabulary"],
        }
    )
    plain = make_pipeline()
    assert "minivan" in {n.phrase for n in (await plain.mine(req)).items[0].negatives}
    # the knowledge source protects the answer even when its own miner is not selected
    assert "minivan" not in {n.phrase for n in (await pipe.mine(req)).items[0].negatives}


async def test_unknown_miner_is_rejected(pipe):
    with pytest.raises(UnknownMiner, match="nope"):
        await pipe.mine(_req(miners=["nope"]))


async def test_fewer_than_k_says_why(pipe):
    resp = await pipe.mine(_req(k=50, miners=["vocabulary"], min_similarity=0.6))
    item = resp.items[0]
    assert len(item.negatives) < 50
    note = item.miners["vocabulary"].note or ""
    assert "fewer than k=50" in note and "below band" in note


async def test_several_positives_share_the_k(pipe):
    req = NegativesRequest.model_validate(
        {"items": [{"positives": ["zebra", "violin"]}], "k": 10, "miners": ["vocabulary"]}
    )
    negs = (await pipe.mine(req)).items[0].negatives
    assert len(negs) == 10
    assert {n.for_positive for n in negs} == {"zebra", "violin"}
    assert not {"zebra", "violin"} & {n.phrase for n in negs}


@pytest.fixture
def own_redis(tmp_path):
    srv = RedisServer(tmp_path / "redis")
    srv.start()
    yield srv
    srv.stop()


async def test_redis_cache_one_round_trip_and_single_flight(make_pipeline, own_redis):
    cache = RedisCache(own_redis.url)
    pipe = make_pipeline(cache=cache, factories=FACTORIES, miners=["vocabulary", "echo"])
    echo = pipe.registry.miners["echo"]
    items = [{"id": str(i), "positives": [f"object {i}"]} for i in range(8)]
    req = NegativesRequest.model_validate(
        {"items": items, "k": 5, "miners": ["echo"], "min_similarity": -1.0}
    )
    first, second = await asyncio.gather(pipe.mine(req), pipe.mine(req))
    assert echo.calls == 8  # concurrent identical misses computed once
    assert first.items[0].negatives == second.items[0].negatives
    third = await pipe.mine(req)
    assert all(it.cached for it in third.items) and echo.calls == 8
    assert [i.id for i in third.items] == [str(i) for i in range(8)]
    assert third.items[0].negatives == first.items[0].negatives
    await pipe.aclose()


async def test_redis_down_answers_degraded_then_recovers(make_pipeline, own_redis):
    cache = RedisCache(own_redis.url, backoff_s=0.0)
    pipe = make_pipeline(cache=cache)
    req = _req(k=5)
    own_redis.stop()
    resp = await pipe.mine(req)
    assert resp.items[0].degraded is True and len(resp.items[0].negatives) == 5
    ready = await pipe.readiness()
    assert ready["cache"]["ok"] is False and "unreachable" in ready["cache"]["detail"]
    own_redis.start()
    assert (await pipe.readiness())["cache"]["ok"] is True
    resp = await pipe.mine(req)
    assert resp.items[0].degraded is False
    assert (await pipe.mine(req)).items[0].cached is True
    await pipe.aclose()


async def test_readiness_asks_miners_that_can_check_themselves(make_pipeline):
    class Checked(EchoMiner):
        name = "checked"

        async def check(self):
            return False, "server does not serve 'llama'"

    pipe = make_pipeline(factories={"checked": Checked, "vocabulary": VocabularyMiner}, miners=None)
    parts = await pipe.readiness()
    assert parts["miner:checked"] == {"ok": False, "detail": "server does not serve 'llama'"}
    assert parts["miner:vocabulary"]["ok"] is True


async def test_serialised_answer_equals_the_model_and_bad_entries_are_recomputed(make_pipeline):
    import json

    from hardneg.service.cache import LRUCache

    cache = LRUCache()
    pipe = make_pipeline(cache=cache)
    req = _req(k=6)
    first = await pipe.mine(req)  # computed, then stored
    spliced = json.loads(await pipe.mine_json(req))  # served from the stored bytes
    assert spliced["items"][0]["cached"] is True
    expected = first.model_dump(mode="json")
    expected["items"][0]["cached"] = True
    assert spliced == expected
    plan = pipe._plan(req.items, pipe.resolve(req.options()), pipe.versions())
    keys = [plan.answer_keys[0], *plan.positive_keys[0]]  # the item's answer and its positive's
    await cache.set_many({key: b'{"negatives": [garbage' for key in keys if key})
    again = await pipe.mine(req)
    assert again.items[0].cached is False and again.items[0].negatives == first.items[0].negatives
    assert json.loads(await pipe.mine_json(req))["items"][0]["cached"] is True  # rewritten


def test_attribute_swaps_are_capped_but_fill_gaps():
    from hardneg.service.assemble import cap_kinds as _cap_kinds

    def neg(phrase, kind):
        return Negative(phrase=phrase, score=0.8, for_positive="p", kind=kind, sources=["x"])

    colours = [neg(f"c{i}", Kind.colour) for i in range(8)]
    types = [neg(f"t{i}", Kind.type) for i in range(8)]
    got = _cap_kinds(colours + types, k=10, share=0.3)
    assert [n.kind for n in got].count(Kind.colour) == 3 and len(got) == 10
    assert [n.phrase for n in _cap_kinds(colours, k=5, share=0.3)] == ["c0", "c1", "c2", "c3", "c4"]


async def test_a_degraded_answer_is_stored_once_with_the_short_ttl(make_pipeline, own_redis):
    """The cache layer picks the TTL when it stores: one SET, degraded_ttl_s, never a week."""
    import redis as redis_sync

    raw = redis_sync.Redis.from_url(own_redis.url)
    raw.flushall()
    raw.config_set("notify-keyspace-events", "K$")  # keyspace events for string commands
    events = raw.pubsub()
    events.psubscribe("__keyspace@0__:hardneg:pos:*")
    cache = RedisCache(own_redis.url)
    pipe = make_pipeline(
        cache=cache, factories=FACTORIES, miners=["vocabulary", "broken"], degraded_ttl_s=45
    )
    resp = await pipe.mine(_req(k=5))
    assert resp.items[0].degraded is True
    keys = raw.keys("hardneg:pos:*")
    assert len(keys) == 1 and 0 < raw.ttl(keys[0]) <= 45
    healthy = await pipe.mine(_req(k=5, miners=["vocabulary"]))
    assert healthy.items[0].degraded is False
    long_lived = [k for k in raw.keys("hardneg:pos:*") if raw.ttl(k) > 45]
    assert len(long_lived) == 1 and raw.ttl(long_lived[0]) > 24 * 3600
    await pipe.aclose()
    writes = []
    while (msg := events.get_message(timeout=0.2)) is not None:
        if msg["type"] == "pmessage" and msg["data"] == b"set":
            writes.append(msg["channel"])
    events.close()
    raw.close()
    assert len(writes) == 2  # each answer written once, with its TTL
