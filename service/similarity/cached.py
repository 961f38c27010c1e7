"""Embeddings cached per (embedder id, text): a small in-process LRU in front of the service cache.

Each text is encoded once per embedder across requests and workers: the LRU answers repeats
within a process, the service cache (Redis) across processes; only the misses reach the model,
in one batch, in a worker thread so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from hardneg.miners.base import CacheLike, Embedder

log = logging.getLogger(__name__)


def embedding_key(embedder_id: str, text: str) -> str:
    """Cache key of one text's embedding: ``emb:{embedder id}:{sha1(text)}``."""
    return f"emb:{embedder_id}:{hashlib.sha1(text.encode('utf-8')).hexdigest()}"


class CachedEmbedder:
    """Async wrapper: embeddings cached in the service cache under key emb:{embedder.id}:{sha1(text)}
    (float32 bytes) + a small in-process LRU; encodes only the misses, in batches, in a worker thread.
    """

    def __init__(
        self,
        embedder: Embedder,
        cache: CacheLike | None,
        ttl_s: int = 30 * 24 * 3600,
        lru_size: int = 50_000,
    ) -> None:
        self.inner = embedder
        self.cache = cache
        self.ttl_s = ttl_s
        self.lru_size = lru_size
        self.id: str = embedder.id
        self.dim: int = embedder.dim
        self._lru: OrderedDict[str, np.ndarray] = OrderedDict()
        # In-flight fetches keyed by (event loop, text): identical concurrent misses encode once.
        self._pending: dict[tuple[int, str], asyncio.Future[np.ndarray]] = {}
        self.stats = {"lru_hits": 0, "cache_hits": 0, "encoded": 0}

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Synchronous, uncached: the inner embedder's ``encode_text`` (for threads and indexes)."""
        return self.inner.encode_text(texts)

    async def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32 rows for ``texts`` in order; repeated texts are encoded once."""
        if isinstance(texts, str):
            raise TypeError("encode takes a sequence of strings, not one string")
        items = list(texts)
        found: dict[str, np.ndarray] = {}
        misses = [t for t in dict.fromkeys(items) if not self._from_lru(t, found)]
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
            got = await self._get_remote(texts)
            todo = [t for t in texts if t not in got]
            if todo:
                got.update(await self._encode_and_store(todo))
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

    def _from_lru(self, text: str, found: dict[str, np.ndarray]) -> bool:
        vec = self._lru.get(text)
        if vec is None:
            return False
        self._lru.move_to_end(text)
        found[text] = vec
        self.stats["lru_hits"] += 1
        return True

    def _remember(self, text: str, vec: np.ndarray) -> None:
        self._lru[text] = vec
        self._lru.move_to_end(text)
        while len(self._lru) > self.lru_size:
            self._lru.popitem(last=False)

    async def _get_remote(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Vectors the service cache holds; a failing or corrupt cache reads as misses."""
        if self.cache is None:
            return {}
        try:
            blobs = await self.cache.get_many([embedding_key(self.id, t) for t in texts])
        except Exception as exc:  # the cache is an optimisation: never fail an answer for it
            log.warning("embedding cache read failed (%s); encoding instead", exc)
            return {}
        got: dict[str, np.ndarray] = {}
        for text, blob in zip(texts, blobs, strict=True):
            if blob is None:
                continue
            if len(blob) != 4 * self.dim:
                log.warning("ignoring cached embedding of wrong size %d for %r", len(blob), text)
                continue
            vec = np.frombuffer(blob, dtype=np.float32).copy()
            got[text] = vec
            self._remember(text, vec)
        self.stats["cache_hits"] += len(got)
        return got

    async def _encode_and_store(self, texts: list[str]) -> dict[str, np.ndarray]:
        vecs = await asyncio.to_thread(self.inner.encode_text, texts)
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        if vecs.shape != (len(texts), self.dim):
            raise RuntimeError(
                f"embedder {self.id} returned shape {vecs.shape} for {len(texts)} texts"
            )
        self.stats["encoded"] += len(texts)
        out = {t: vecs[i] for i, t in enumerate(texts)}
        for t, v in out.items():
            self._remember(t, v)
        if self.cache is not None:
            blobs = {embedding_key(self.id, t): v.tobytes() for t, v in out.items()}
            try:
                await self.cache.set_many(blobs, self.ttl_s)
            except Exception as exc:
                log.warning("embedding cache write failed (%s); continuing uncached", exc)
        return out
