"""Cache tests: the in-process LRU, and RedisCache against a real redis-server (tests/procs.py)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis as redis_sync

from hardneg.service.cache import (
    Cache,
    LRUCache,
    RedisCache,
    cache_key,
    make_cache,
    redact_url,
)
from hardneg.service.settings import Settings
from tests.procs import RedisServer


class Counter:
    """A compute function that counts its runs and can be held open until released."""

    def __init__(self, value: bytes = b"v", delay_s: float = 0.05) -> None:
        self.value, self.delay_s, self.calls = value, delay_s, 0
        self.started = asyncio.Event()

    async def __call__(self) -> bytes:
        self.calls += 1
        self.started.set()
        await asyncio.sleep(self.delay_s)
        return self.value


class Clock:
    """A hand-driven monotonic clock, so TTL expiry needs no sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- cache_key -----------------------------------------------------------------------------------


def test_cache_key_is_stable_and_canonical() -> None:
    a = cache_key("answer", {"positives": ["yellow school bus"], "k": 30, "present": ["road"]})
    b = cache_key("answer", {"present": ["road"], "k": 30, "positives": ["yellow school bus"]})
    assert a == b
    ns, digest = a.split(":")
    assert ns == "answer" and len(digest) == 32 and int(digest, 16) >= 0
    assert cache_key("answer", {"k": 31}) != cache_key("answer", {"k": 30})
    assert cache_key("emb", "café") != cache_key("emb", "cafe")
    assert cache_key("emb", "café") != cache_key("answer", "café")


def test_cache_key_rejects_bad_input() -> None:
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        cache_key("answer", {"x": object()})
    with pytest.raises(ValueError, match="namespace"):
        cache_key("", {"x": 1})


def test_redact_url_hides_password() -> None:
    assert redact_url("redis://:s3cret@db:6379/0") == "redis://:***@db:6379/0"
    assert redact_url("redis://me:s3cret@db:6379/0") == "redis://me:***@db:6379/0"
    assert redact_url("redis://db:6379/0") == "redis://db:6379/0"


# --- LRU -----------------------------------------------------------------------------------------


async def test_lru_get_set_many_and_eviction_order() -> None:
    cache = LRUCache(maxsize=3)
    assert isinstance(cache, Cache) and cache.name == "lru" and not cache.degraded
    await cache.set_many({"a": b"1", "b": b"2", "c": b"3"})
    assert await cache.get_many(["a", "x", "c"]) == [b"1", None, b"3"]
    # "a" and "c" were just read, so "b" is the least recently used one and goes first
    await cache.set_many({"d": b"4"})
    assert await cache.get_many(["a", "b", "c", "d"]) == [b"1", None, b"3", b"4"]
    assert len(cache) == 3
    ok, detail = await cache.ping()
    assert ok and "not shared across workers" in detail


async def test_lru_ttl_expiry() -> None:
    clock = Clock()
    cache = LRUCache(maxsize=10, default_ttl_s=100, clock=clock)
    await cache.set_many({"short": b"s"}, ttl_s=5)
    await cache.set_many({"default": b"d"})
    clock.now += 4.9
    assert await cache.get_many(["short", "default"]) == [b"s", b"d"]
    clock.now += 0.2
    assert await cache.get_many(["short", "default"]) == [None, b"d"]
    clock.now += 100
    assert await cache.get_many(["default"]) == [None]
    assert len(cache) == 0


async def test_lru_rejects_bad_values_and_ttl() -> None:
    cache = LRUCache()
    with pytest.raises(TypeError, match="must be bytes"):
        await cache.set_many({"a": "text"})  # a str is a caller bug
    with pytest.raises(ValueError, match="ttl_s"):
        await cache.set_many({"a": b"1"}, ttl_s=0)
    with pytest.raises(ValueError, match="maxsize"):
        LRUCache(maxsize=0)


async def test_lru_single_flight() -> None:
    cache, compute = LRUCache(), Counter(b"answer")
    results = await asyncio.gather(*(cache.compute_once("k", compute) for _ in range(50)))
    assert compute.calls == 1
    assert {v for v, _ in results} == {b"answer"}
    assert sum(here for _, here in results) == 1
    assert await cache.compute_once("k", compute) == (b"answer", False)
    assert compute.calls == 1


async def test_lru_single_flight_failure_reaches_every_caller_and_is_not_cached() -> None:
    cache = LRUCache()

    async def boom() -> bytes:
        await asyncio.sleep(0.01)
        raise RuntimeError("miner exploded")

    results = await asyncio.gather(
        *(cache.compute_once("k", boom) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)
    assert await cache.compute_once("k", Counter(b"ok")) == (b"ok", True)


# --- Redis (session server) ----------------------------------------------------------------------


@pytest.fixture
async def rcache(redis_url: str) -> AsyncIterator[RedisCache]:
    cache = RedisCache(redis_url)
    yield cache
    await cache.aclose()


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis_sync.Redis]:
    client = redis_sync.Redis.from_url(redis_url)
    client.ping()  # connect (and its handshake commands) before anything is counted
    yield client
    client.close()


async def test_redis_get_set_many_prefix_and_ttl(rcache: RedisCache, raw: redis_sync.Redis) -> None:
    assert isinstance(rcache, Cache) and rcache.name == "redis"
    await rcache.set_many({"a": b"\x00\xff", "b": b""}, ttl_s=120)
    await rcache.set_many({"c": b"3"})
    assert await rcache.get_many(["a", "missing", "b", "c"]) == [b"\x00\xff", None, b"", b"3"]
    assert await rcache.get_many([]) == []
    assert sorted(raw.keys("*")) == [b"hardneg:a", b"hardneg:b", b"hardneg:c"]
    assert 0 < raw.ttl("hardneg:a") <= 120
    assert 120 < raw.ttl("hardneg:c") <= 7 * 24 * 3600  # default TTL: nothing is stored forever
    assert not rcache.degraded
    ok, detail = await rcache.ping()
    assert ok and "reachable" in detail


def _stats(raw: redis_sync.Redis) -> tuple[int, int, int, int]:
    """(commands processed, socket reads, MGET calls, SET calls) so far on the server."""
    stats = raw.info("stats", "commandstats")  # one command, so it adds exactly 1 to each count
    mget, set_ = stats.get("cmdstat_mget", {}), stats.get("cmdstat_set", {})
    return (
        stats["total_commands_processed"],
        stats["total_reads_processed"],
        mget.get("calls", 0),
        set_.get("calls", 0),
    )


async def test_redis_batch_is_one_round_trip(rcache: RedisCache, raw: redis_sync.Redis) -> None:
    keys = [f"k{i}" for i in range(32)]
    await rcache.get_many(["warm-up"])  # the client's own connect handshake is not the batch

    before = _stats(raw)
    await rcache.set_many({k: k.encode() * 8 for k in keys})
    after = _stats(raw)
    assert after[3] - before[3] == 32  # 32 SETs ...
    assert after[1] - before[1] == 1 + 1  # ... read by the server in one go (+ our INFO)

    before = _stats(raw)
    got = await rcache.get_many(keys)
    after = _stats(raw)
    assert got == [k.encode() * 8 for k in keys]
    assert after[2] - before[2] == 1  # one MGET
    assert after[0] - before[0] == 1 + 1  # and nothing else (+ our INFO)


async def test_redis_single_flight_one_instance(rcache: RedisCache, raw: redis_sync.Redis) -> None:
    compute = Counter(b"mined", delay_s=0.1)
    results = await asyncio.gather(*(rcache.compute_once("q", compute, 60) for _ in range(50)))
    assert compute.calls == 1
    assert {v for v, _ in results} == {b"mined"} and sum(h for _, h in results) == 1
    assert 0 < raw.ttl("hardneg:q") <= 60
    assert raw.exists("hardneg:lock:q") == 0  # the lock is released, not left to expire


async def test_redis_single_flight_across_instances(redis_url: str) -> None:
    """Two RedisCache instances stand in for two worker processes sharing one Redis."""
    a, b = RedisCache(redis_url), RedisCache(redis_url)
    compute = Counter(b"mined", delay_s=0.2)
    try:
        results = await asyncio.gather(
            *(c.compute_once("q", compute) for _ in range(25) for c in (a, b))
        )
    finally:
        await a.aclose()
        await b.aclose()
    assert compute.calls == 1
    assert {v for v, _ in results} == {b"mined"} and sum(h for _, h in results) == 1


async def test_redis_failed_holder_hands_over(redis_url: str, raw: redis_sync.Redis) -> None:
    a, b = RedisCache(redis_url), RedisCache(redis_url)
    holding = asyncio.Event()

    async def boom() -> bytes:
        holding.set()
        await asyncio.sleep(0.1)
        raise RuntimeError("miner exploded")

    first = asyncio.create_task(a.compute_once("q", boom))
    await holding.wait()  # a holds the lock now; b has to wait for it
    second = await b.compute_once("q", Counter(b"fallback"))
    with pytest.raises(RuntimeError, match="exploded"):
        await first
    await a.aclose()
    await b.aclose()
    assert second == (b"fallback", True)
    assert raw.get("hardneg:q") == b"fallback" and raw.exists("hardneg:lock:q") == 0


async def test_redis_expired_lock_never_deadlocks(redis_url: str) -> None:
    a, b = RedisCache(redis_url, lock_ttl_s=0.2), RedisCache(redis_url, lock_ttl_s=0.2)
    release = asyncio.Event()
    holding = asyncio.Event()

    async def stuck() -> bytes:
        holding.set()
        await release.wait()
        return b"late"

    first = asyncio.create_task(a.compute_once("q", stuck))
    await holding.wait()
    assert await b.compute_once("q", Counter(b"mine")) == (b"mine", True)
    release.set()
    assert await first == (b"late", True)
    await a.aclose()
    await b.aclose()


# --- Redis down / back ----------------------------------------------------------------------------


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server this test may stop, pause and kill without hurting the others."""
    srv = RedisServer(tmp_path / "redis")
    srv.start()
    yield srv
    if srv.proc is not None and srv.proc.poll() is None:
        srv.proc.send_signal(signal.SIGCONT)
    srv.stop()


async def test_redis_down_degrades_then_recovers(own_redis: RedisServer) -> None:
    cache = RedisCache(own_redis.url, backoff_s=0.05)
    await cache.set_many({"a": b"1"})
    own_redis.stop()

    assert await cache.get_many(["a", "b"]) == [None, None]
    assert cache.degraded
    await cache.set_many({"b": b"2"})  # dropped, no exception
    compute = Counter(b"fresh")
    assert await cache.compute_once("c", compute) == (b"fresh", True)
    ok, detail = await cache.ping()
    assert not ok
    assert detail == f"redis at 127.0.0.1:{own_redis.port} unreachable: Connection refused"

    own_redis.start()
    await asyncio.sleep(0.06)  # past the back-off: the next call probes Redis again
    await cache.set_many({"a": b"1"})
    assert not cache.degraded
    assert await cache.get_many(["a"]) == [b"1"]
    assert (await cache.ping())[0]
    await cache.aclose()


async def test_redis_backoff_skips_redis_until_probed(own_redis: RedisServer) -> None:
    cache = RedisCache(own_redis.url, backoff_s=3600)
    own_redis.stop()
    assert await cache.get_many(["a"]) == [None] and cache.degraded
    own_redis.start()
    raw = redis_sync.Redis.from_url(own_redis.url)
    raw.set("hardneg:a", b"1")
    raw.close()
    # within the back-off the cache does not touch Redis at all: still a miss, still degraded
    assert await cache.get_many(["a"]) == [None] and cache.degraded
    # /readyz's ping probes regardless, and its success ends degraded mode
    assert (await cache.ping())[0] and not cache.degraded
    assert await cache.get_many(["a"]) == [b"1"]
    await cache.aclose()


async def test_redis_hung_server_times_out(own_redis: RedisServer) -> None:
    cache = RedisCache(own_redis.url, socket_timeout_s=0.2)
    await cache.set_many({"a": b"1"})
    assert own_redis.proc is not None
    own_redis.proc.send_signal(signal.SIGSTOP)  # accepts bytes, never answers
    assert await cache.get_many(["a"]) == [None]
    ok, detail = await cache.ping()
    assert not ok and detail.endswith("unreachable: no reply within 0.2 s")
    own_redis.proc.send_signal(signal.SIGCONT)
    assert (await cache.ping())[0]
    assert await cache.get_many(["a"]) == [b"1"]
    await cache.aclose()


async def test_redis_dies_mid_flight(own_redis: RedisServer) -> None:
    cache = RedisCache(own_redis.url, socket_timeout_s=5, backoff_s=0.01)
    assert own_redis.proc is not None

    own_redis.proc.send_signal(signal.SIGSTOP)
    pending = asyncio.create_task(cache.get_many(["a"]))
    await asyncio.sleep(0.1)  # the MGET is on the wire, waiting for a reply that never comes
    os.kill(own_redis.proc.pid, signal.SIGKILL)
    assert await pending == [None] and cache.degraded
    own_redis.stop()
    own_redis.start()
    await asyncio.sleep(0.02)
    assert await cache.compute_once("a", Counter(b"v")) == (b"v", True)
    assert not cache.degraded
    assert await cache.get_many(["a"]) == [b"v"]
    await cache.aclose()


async def test_redis_error_reply_is_swallowed_too(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """An error reply (here a full Redis: OOM under noeviction) must not fail the answer either."""
    cache = RedisCache(own_redis.url, backoff_s=0.01)
    raw = redis_sync.Redis.from_url(own_redis.url)
    raw.config_set("maxmemory-policy", "noeviction")
    raw.config_set("maxmemory", 1)
    await cache.set_many({"a": b"1"})
    assert cache.degraded
    assert "failing: " in caplog.text and "maxmemory" in caplog.text
    assert await cache.compute_once("b", Counter(b"v")) == (b"v", True)
    raw.config_set("maxmemory", 0)
    raw.close()
    await asyncio.sleep(0.02)
    await cache.set_many({"a": b"1"})
    assert not cache.degraded and await cache.get_many(["a"]) == [b"1"]
    await cache.aclose()


# --- make_cache -----------------------------------------------------------------------------------


async def test_make_cache_picks_backend_and_says_so(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hardneg.service.cache")
    lru = make_cache(Settings(redis_url=None, lru_size=7))
    assert isinstance(lru, LRUCache) and lru.maxsize == 7
    assert "in-process LRU" in caplog.text and "not shared across workers" in caplog.text

    secret_url = redis_url.replace("redis://", "redis://:s3cret@")
    cache = make_cache(Settings(redis_url=secret_url, redis_timeout_s=0.3))
    assert isinstance(cache, RedisCache) and cache.socket_timeout_s == 0.3
    assert "s3cret" not in caplog.text and "redis://:***@127.0.0.1" in caplog.text
    await cache.aclose()

    with pytest.raises(ValueError, match="not a usable Redis URL"):
        make_cache(Settings(redis_url="http://127.0.0.1:1/"))
