"""CachedEmbedder against a real redis-server (the session fixture), through the real RedisCache."""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import Sequence

import numpy as np
import pytest
import redis as redis_sync
import torch

from hardneg.service.cache import RedisCache
from hardneg.service.similarity.cached import CachedEmbedder, embedding_key
from hardneg.service.similarity.embedder import OpenClipEmbedder


class Counting:
    """Wraps a real embedder and records what it was asked to encode."""

    def __init__(self, inner: OpenClipEmbedder) -> None:
        self.inner, self.id, self.dim = inner, inner.id, inner.dim
        self.calls: list[list[str]] = []

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return self.inner.encode_text(texts)


@pytest.fixture(scope="module")
def tiny(tiny_configs) -> OpenClipEmbedder:
    torch.manual_seed(0)
    return OpenClipEmbedder("hardneg-tiny", device="cpu")


async def test_second_process_reads_embeddings_from_redis(redis_url, tiny):
    texts = ["school bus", "taxi", "school bus", "minibus"]
    first = Counting(tiny)
    a = await CachedEmbedder(first, RedisCache(redis_url)).encode(texts)
    assert first.calls == [["school bus", "taxi", "minibus"]]  # duplicates encoded once
    np.testing.assert_allclose(a, tiny.encode_text(texts), atol=1e-6)

    second = Counting(tiny)  # fresh LRU: as another worker process would be
    b = await CachedEmbedder(second, RedisCache(redis_url)).encode(texts)
    assert second.calls == []
    np.testing.assert_array_equal(a, b)

    r = redis_sync.Redis.from_url(redis_url)
    key = f"hardneg:emb:{tiny.id}:{hashlib.sha1(b'taxi').hexdigest()}"
    assert key == "hardneg:" + embedding_key(tiny.id, "taxi")
    blob = r.get(key)
    assert isinstance(blob, bytes)
    assert np.frombuffer(blob, dtype=np.float32).tolist() == a[1].tolist()
    assert 29 * 24 * 3600 < r.ttl(key) <= 30 * 24 * 3600


async def test_only_misses_are_encoded_and_lru_answers_repeats(redis_url, tiny):
    inner = Counting(tiny)
    emb = CachedEmbedder(inner, RedisCache(redis_url), lru_size=2)
    await emb.encode(["a", "b"])
    await emb.encode(["c"])  # evicts "a" from the 2-entry LRU
    await emb.encode(["b", "a"])
    assert inner.calls == [["a", "b"], ["c"]]  # "a" came back from Redis after LRU eviction
    assert emb.stats == {"lru_hits": 1, "cache_hits": 1, "encoded": 3}


async def test_embedders_with_other_ids_do_not_share_vectors(redis_url, tiny):
    other = OpenClipEmbedder("hardneg-tiny", device="cpu", templates=["{}"])
    other.model = tiny.model  # same weights, other template: other vectors, other id
    va = await CachedEmbedder(tiny, RedisCache(redis_url)).encode(["cat"])
    counted = Counting(other)
    vb = await CachedEmbedder(counted, RedisCache(redis_url)).encode(["cat"])
    assert counted.calls == [["cat"]]
    assert not np.allclose(va, vb)


async def test_corrupt_cached_value_is_reencoded(redis_url, tiny):
    r = redis_sync.Redis.from_url(redis_url)
    r.set("hardneg:" + embedding_key(tiny.id, "cat"), b"\x00\x01garbage")
    inner = Counting(tiny)
    out = await CachedEmbedder(inner, RedisCache(redis_url)).encode(["cat"])
    assert inner.calls == [["cat"]]
    np.testing.assert_allclose(out, tiny.encode_text(["cat"]), atol=1e-6)


async def test_redis_down_still_answers(tiny):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cache = RedisCache(f"redis://127.0.0.1:{port}/0", socket_timeout_s=0.2)
    out = await CachedEmbedder(tiny, cache).encode(["cat", "dog"])
    np.testing.assert_allclose(out, tiny.encode_text(["cat", "dog"]), atol=1e-6)


async def test_concurrent_identical_misses_encode_once(redis_url, tiny):
    inner = Counting(tiny)
    emb = CachedEmbedder(inner, RedisCache(redis_url))
    outs = await asyncio.gather(*(emb.encode(["zebra", "okapi"]) for _ in range(5)))
    assert inner.calls == [["zebra", "okapi"]]
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


async def test_without_a_cache_and_bad_input(tiny):
    emb = CachedEmbedder(tiny, None)
    assert (await emb.encode([])).shape == (0, tiny.dim)
    assert emb.encode_text(["cat"]).shape == (1, tiny.dim)
    with pytest.raises(TypeError):
        await emb.encode("cat")
