"""Embeddings cached per (embedder id, text) with the miners' cache helper, encoded once.

Each text is encoded once per embedder across requests and workers: the helper's in-process LRU
answers repeats within a process, the service cache (Redis) across processes; only the misses
reach the model, in one batch, in a worker thread so the event loop keeps serving. Concurrent
callers missing the same text wait for one encoding.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from hardneg.miners.cache import CacheLike, MinerCache

if TYPE_CHECKING:
    from hardneg.miners.base import Embedder


def embedding_key(embedder_id: str, text: str) -> str:
    """Cache key of one text's embedding: ``emb:{embedder id}:{sha1(text)}``."""
    return f"emb:{embedder_id}:{_sha1(text)}"


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class CachedEmbedder:
    """Async wrapper of an :class:`Embedder`: ``encode`` is cached (float32 bytes under
    :func:`embedding_key`) and runs the model in a worker thread; ``encode_text`` is the inner
    embedder's synchronous, uncached call (for index builds in a thread)."""

    def __init__(
        self,
        embedder: Embedder,
        cache: CacheLike | None,
        ttl_s: int = 30 * 24 * 3600,
        lru_size: int = 50_000,
    ) -> None:
        self.inner = embedder
        self.id: str = embedder.id
        self.dim: int = embedder.dim
        self.cache: MinerCache[np.ndarray] = MinerCache(
            cache,
            f"emb:{embedder.id}",
            ttl_s,
            encode=lambda v: np.ascontiguousarray(v, dtype=np.float32).tobytes(),
            decode=self._decode,
            lru_size=lru_size,
            digest=_sha1,
        )
        # In-flight fetches keyed by (event loop, text): identical concurrent misses encode once.
        self._pending: dict[tuple[int, str], asyncio.Future[np.ndarray]] = {}
        self._encoded = 0

    @property
    def stats(self) -> dict[str, int]:
        return {
            "lru_hits": self.cache.stats["lru"],
            "cache_hits": self.cache.stats["shared"],
            "encoded": self._encoded,
        }

    def _decode(self, blob: bytes) -> np.ndarray:
        if len(blob) != 4 * self.dim:
            raise ValueError(f"cached embedding of wrong size {len(blob)}")
        return np.frombuffer(blob, dtype=np.float32).copy()

    def remember(self, vectors: Mapping[str, np.ndarray]) -> None:
        """Vectors this embedder already computed (a vocabulary index's rows) kept in the
        in-process LRU: a vocabulary candidate is then not encoded again when ranked."""
        self.cache.remember_many(
            {t: np.ascontiguousarray(v, dtype=np.float32) for t, v in vectors.items()}
        )

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Synchronous, uncached: the inner embedder's ``encode_text`` (for threads and indexes)."""
        return self.inner.encode_text(texts)

    async def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32 rows for ``texts`` in order; repeated texts are encoded once."""
        if isinstance(texts, str):
            raise TypeError("encode takes a sequence of strings, not one string")
        items = list(texts)
        found: dict[str, np.ndarray] = {}
        for t in dict.fromkeys(items):
            vec = self.cache.peek(t)
            if vec is not None:
                found[t] = vec
        misses = [t for t in dict.fromkeys(items) if t not in found]
        loop_id = id(asyncio.get_running_loop())
        waiting = {t: f for t in misses if (f := self._pending.get((loop_id, t))) is not None}
        mine = [t for t in misses if t not in waiting]
        if mine:
            found.update(await self._fetch_once(loop_id, mine))
        for t, fut in waiting.items():
            found[t] = await asyncio.shield(fut)
        out = np.empty((len(items), self.dim), dtype=np.float32)
        for i, t in enumerate(items):
            out[i] = found[t]
        return out

    async def _fetch_once(self, loop_id: int, texts: list[str]) -> dict[str, np.ndarray]:
        """Fetch or encode ``texts``; concurrent callers asking for the same texts wait on us."""
        loop = asyncio.get_running_loop()
        futs: dict[str, asyncio.Future[np.ndarray]] = {t: loop.create_future() for t in texts}
        self._pending.update({(loop_id, t): f for t, f in futs.items()})
        try:
            got = await self._fetch(texts)
            for t, f in futs.items():
                f.set_result(got[t])
            return got
        except BaseException as exc:
            for f in futs.values():
                if isinstance(exc, asyncio.CancelledError):
                    f.cancel()
                else:
                    f.set_exception(exc)
                    f.exception()  # retrieved: only waiters care, and they re-raise it
            raise
        finally:
            for t, f in futs.items():
                if self._pending.get((loop_id, t)) is f:
                    del self._pending[(loop_id, t)]

    async def _fetch(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Vectors the caches hold, and the rest encoded in one batch and stored."""
        cached = await self.cache.get_many(texts)
        got = {t: v for t, v in zip(texts, cached, strict=True) if v is not None}
        todo = [t for t in texts if t not in got]
        if not todo:
            return got
        vecs = await asyncio.to_thread(self.inner.encode_text, todo)
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        if vecs.shape != (len(todo), self.dim):
            raise RuntimeError(
                f"embedder {self.id} returned shape {vecs.shape} for {len(todo)} texts"
            )
        self._encoded += len(todo)
        new = {t: vecs[i] for i, t in enumerate(todo)}
        await self.cache.set_many(new)
        return got | new
