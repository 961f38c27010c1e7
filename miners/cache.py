"""The one cache helper for miners' own long-lived results (SPARQL rows, LLM answers, embeddings).

A :class:`MinerCache` has a key scheme (``namespace:digest``), a TTL, a small in-process LRU of
decoded values in front of the service cache (Redis in service mode, shared by every worker), and
one rule: a cache failure never fails the answer. Reads that fail are misses, writes that fail are
dropped, values that do not decode are misses; each is logged once per call.
"""

from __future__ import annotations

import copy
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Generic, Protocol, TypeVar

__all__ = ["CacheLike", "MinerCache", "sha256_digest"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class CacheLike(Protocol):
    """What a miner may use of the service cache: batched get and set of bytes with a TTL."""

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    async def set_many(self, items: Mapping[str, bytes], ttl_s: int | None = None) -> None: ...


def sha256_digest(text: str) -> str:
    """The default key digest: the first 32 hex digits of SHA-256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class MinerCache(Generic[T]):
    """Values of type ``T`` under ``namespace``: in-process LRU, then the shared cache.

    ``encode``/``decode`` turn values into the bytes the shared cache stores; ``decode`` returns
    None (or raises ValueError) for bytes it does not accept, which then count as a miss.
    """

    def __init__(
        self,
        backend: CacheLike | None,
        namespace: str,
        ttl_s: int,
        *,
        encode: Callable[[T], bytes],
        decode: Callable[[bytes], T | None],
        lru_size: int = 4096,
        digest: Callable[[str], str] = sha256_digest,
    ) -> None:
        if not namespace:
            raise ValueError("MinerCache needs a non-empty namespace")
        self.backend = backend
        self.namespace = namespace
        self.ttl_s = ttl_s
        self.lru_size = lru_size
        self._encode, self._decode, self._digest = encode, decode, digest
        self._lru: OrderedDict[str, T] = OrderedDict()
        self.stats = {"lru": 0, "shared": 0, "miss": 0}

    def on(self, backend: CacheLike | None) -> MinerCache[T]:
        """This cache over another backend (a miner asked with another context's cache): the
        same namespace, TTL, codec, in-process LRU and stats."""
        if backend is self.backend:
            return self
        view = copy.copy(self)
        view.backend = backend
        return view

    def key(self, text: str) -> str:
        """The cache key of ``text`` (a query, a canonical JSON of the inputs, a phrase)."""
        return f"{self.namespace}:{self._digest(text)}"

    def peek(self, text: str) -> T | None:
        """The in-process LRU's value for ``text``, without asking the shared cache."""
        value = self._lru_get(self.key(text))
        self.stats["lru"] += value is not None
        return value

    async def get(self, text: str) -> T | None:
        return (await self.get_many([text]))[0]

    async def get_many(self, texts: Sequence[str]) -> list[T | None]:
        """Values for ``texts`` in order; None for each miss."""
        keys = [self.key(t) for t in texts]
        out: list[T | None] = [self._lru_get(k) for k in keys]
        self.stats["lru"] += sum(v is not None for v in out)
        todo = [i for i, v in enumerate(out) if v is None]
        if todo:
            for i, value in zip(todo, await self._shared_get([keys[i] for i in todo]), strict=True):
                if value is not None:
                    out[i] = value
                    self._remember(keys[i], value)
        found = sum(v is not None for v in out)
        self.stats["shared"] += found - (len(out) - len(todo))
        self.stats["miss"] += len(out) - found
        return out

    async def set(self, text: str, value: T) -> None:
        await self.set_many({text: value})

    async def set_many(self, values: Mapping[str, T]) -> None:
        """Remember ``values`` in-process and store them in the shared cache (best effort)."""
        blobs: dict[str, bytes] = {}
        for text, value in values.items():
            key = self.key(text)
            self._remember(key, value)
            blobs[key] = self._encode(value)
        if self.backend is None or not blobs:
            return
        try:
            await self.backend.set_many(blobs, ttl_s=self.ttl_s)
        except Exception as exc:  # a cache failure costs a recomputation later, never the answer
            log.warning("%s cache write failed: %r", self.namespace, exc)

    def remember_many(self, values: Mapping[str, T]) -> None:
        """Keep ``values`` in the in-process LRU only (already stored elsewhere)."""
        for text, value in values.items():
            self._remember(self.key(text), value)

    def _lru_get(self, key: str) -> T | None:
        value = self._lru.get(key)
        if value is not None:
            self._lru.move_to_end(key)
        return value

    def _remember(self, key: str, value: T) -> None:
        self._lru[key] = value
        self._lru.move_to_end(key)
        while len(self._lru) > self.lru_size:
            self._lru.popitem(last=False)

    async def _shared_get(self, keys: list[str]) -> list[T | None]:
        if self.backend is None:
            return [None] * len(keys)
        try:
            blobs = await self.backend.get_many(keys)
        except Exception as exc:  # a cache failure costs a recomputation, never the answer
            log.warning("%s cache read failed: %r", self.namespace, exc)
            return [None] * len(keys)
        return [
            None if b is None else self._decoded(k, b) for k, b in zip(keys, blobs, strict=True)
        ]

    def _decoded(self, key: str, blob: bytes) -> T | None:
        try:
            return self._decode(blob)
        except ValueError as exc:
            log.warning("ignoring unreadable cache entry %s: %s", key, exc)
            return None
