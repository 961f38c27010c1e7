"""Image embeddings through the embedder's image tower, each image encoded once per content hash.

Vectors are cached with the miners' cache helper (:class:`MinerCache`: in-process LRU in front of
the service cache, Redis in service mode) under ``img:{embedder id}:{sha256 of the bytes}``, so
the same picture sent as a URL, a path or base64 is encoded once, by any worker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from hardneg.miners.base import ImageEmbedder
from hardneg.miners.cache import CacheLike, MinerCache

if TYPE_CHECKING:
    from hardneg.service.images.source import LoadedImage
    from hardneg.service.similarity import CachedEmbedder

__all__ = ["ImageVectors", "no_tower_reason"]


def no_tower_reason(embedder: CachedEmbedder) -> str | None:
    """Why ``embedder`` cannot embed images (None when it can): the reason a step reports."""
    inner = embedder.inner
    if not isinstance(inner, ImageEmbedder):
        return (
            f"embedder {embedder.id} has no image tower (a text-only model, e.g. the MiniLM"
            " fallback); set HARDNEG_EMBEDDER to an open_clip model with weights"
        )
    if not inner.image_tower:
        return f"the image tower of {embedder.id} is not loaded (HARDNEG_IMAGE_TOWER=false)"
    return None


class ImageVectors:
    """``await vectors(images)`` -> (n, dim) rows; cache hits never reach the model."""

    def __init__(self, embedder: CachedEmbedder, cache: CacheLike | None, ttl_s: int) -> None:
        inner = embedder.inner
        if not isinstance(inner, ImageEmbedder):
            raise TypeError(no_tower_reason(embedder))
        self.model: ImageEmbedder = inner
        self.dim = embedder.dim
        self.cache: MinerCache[np.ndarray] = MinerCache(
            cache,
            f"img:{embedder.id}",
            ttl_s,
            encode=lambda v: np.ascontiguousarray(v, dtype=np.float32).tobytes(),
            decode=self._decode,
            lru_size=4096,
            digest=lambda content_hash: content_hash,
        )
        self.encoded = 0

    def _decode(self, blob: bytes) -> np.ndarray:
        if len(blob) != 4 * self.dim:
            raise ValueError(f"cached image embedding of wrong size {len(blob)}")
        return np.frombuffer(blob, dtype=np.float32).copy()

    async def vectors(self, images: Sequence[LoadedImage]) -> np.ndarray:
        """One row per image, in order; repeated content is encoded once."""
        hashes = [im.sha256 for im in images]
        unique = list(dict.fromkeys(hashes))
        got = dict(zip(unique, await self.cache.get_many(unique), strict=True))
        todo = {im.sha256: im for im in images if got.get(im.sha256) is None}
        if todo:

            def encode() -> np.ndarray:
                return self.model.encode_image([im.picture() for im in todo.values()])

            rows = await asyncio.to_thread(encode)
            new = {h: np.ascontiguousarray(rows[i], dtype=np.float32) for i, h in enumerate(todo)}
            self.encoded += len(new)
            await self.cache.set_many(new)
            got.update(new)
        out = np.empty((len(images), self.dim), dtype=np.float32)
        for i, h in enumerate(hashes):
            vec = got[h]
            assert vec is not None
            out[i] = vec
        return out
