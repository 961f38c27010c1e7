"""The image step: image-text scores re-rank an item's negatives; and :func:`image_steps`, the
factory the pipeline calls for every per-item step of this package (image, rounds, verifier).

Images are checked, fetched and decoded in :meth:`ImageTextStep.prepare`, before any mining (a
bad image is a 422 that says which and why), and embedded once per content hash. The pipeline
later calls ``apply`` per positive; the loaded image is found again in a short-lived memo.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hardneg.miners.errors import InvalidInput
from hardneg.miners.resilience import LoopLocal
from hardneg.miners.types import MinerStatus, Negative, RequestItem
from hardneg.service.images.rule import TIER, ImageRule
from hardneg.service.images.source import ImageSource, LoadedImage
from hardneg.service.images.tower import ImageVectors, no_tower_reason
from hardneg.service.steps import ItemStep, StepInput, StepOutput

if TYPE_CHECKING:
    from hardneg.miners.cache import CacheLike
    from hardneg.miners.verify import VerifyStore
    from hardneg.miners.verify.base import VerifierFactory
    from hardneg.service.settings import Settings
    from hardneg.service.similarity import CachedEmbedder

__all__ = ["ImageLoader", "ImageTextStep", "StepStores", "image_steps"]

MEMO_TTL_S = 300.0  # a request's images stay loaded this long between prepare and apply
MEMO_BYTES = 256_000_000  # bytes of images kept (pixels are not kept: decoded again if needed)
LOAD_CONCURRENCY = 16  # images of one request fetched and decoded at once


class ImageLoader:
    """Loads each item's image once per request (``prepare``) and hands it to every step."""

    def __init__(self, source: ImageSource) -> None:
        self.source = source
        self._memo: OrderedDict[str, tuple[float, LoadedImage]] = OrderedDict()
        self._memo_bytes = 0
        self._slots = LoopLocal(lambda: asyncio.Semaphore(LOAD_CONCURRENCY))

    @staticmethod
    def _key(value: str) -> str:
        return hashlib.sha256(value.encode()).hexdigest()

    async def check(self, items: Sequence[RequestItem]) -> None:
        """For steps that will not read the pixels: every image checked all the same, local ones
        (path, base64) read and decoded, URLs only against the allow-list (not fetched)."""
        local = [
            (item, f"items.{i}.image")
            for i, item in enumerate(items)
            if item.image is not None
            and self.source.check(item.image, f"items.{i}.image").kind != "url"
        ]
        await asyncio.gather(*(self._one(item, where) for item, where in local))

    async def load(self, items: Sequence[RequestItem]) -> list[LoadedImage | None]:
        """Every item's image, concurrently; the first bad one raises InvalidImage."""
        return list(
            await asyncio.gather(*(self._one(it, f"items.{i}.image") for i, it in enumerate(items)))
        )

    async def get(self, item: RequestItem) -> LoadedImage:
        got = await self._one(item, f"item {item.id!r} image")
        assert got is not None
        return got

    async def _one(self, item: RequestItem, where: str) -> LoadedImage | None:
        if item.image is None:
            return None
        key = self._key(item.image)
        hit = self._memo.get(key)
        if hit is not None and time.monotonic() - hit[0] < MEMO_TTL_S:
            return hit[1]
        async with self._slots.get():
            loaded = await self.source.load(item.image, where)
        self._remember(key, loaded.slim())
        return loaded

    def _remember(self, key: str, image: LoadedImage) -> None:
        old = self._memo.pop(key, None)
        self._memo_bytes -= len(old[1].data) if old else 0
        self._memo[key] = (time.monotonic(), image)
        self._memo_bytes += len(image.data)
        while self._memo_bytes > MEMO_BYTES and len(self._memo) > 1:
            _, (_, dropped) = self._memo.popitem(last=False)
            self._memo_bytes -= len(dropped.data)

    async def aclose(self) -> None:
        await self.source.aclose()


def _with(neg: Negative, key: str, evidence: dict[str, Any]) -> Negative:
    """A copy of ``neg`` with ``evidence[key]`` set (negatives may be shared with a cache)."""
    return neg.model_copy(update={"evidence": {**neg.evidence, key: evidence}})


class ImageTextStep:
    """Re-ranks by image-text score (:class:`ImageRule`); ``disabled`` without an image tower."""

    name = "image"

    def __init__(
        self,
        loader: ImageLoader,
        embedder: CachedEmbedder,
        vectors: ImageVectors | None,
        rule: ImageRule,
        disabled: str | None = None,
    ) -> None:
        self.loader, self.embedder, self.vectors, self.rule = loader, embedder, vectors, rule
        self.disabled = disabled

    def applies(self, item: RequestItem) -> bool:
        return item.image is not None

    async def prepare(self, items: Sequence[RequestItem]) -> None:
        """Check every image; with an image tower, fetch, decode and embed them (cached)."""
        if self.vectors is None:
            await self.loader.check(items)  # nothing will read the pixels: URLs not fetched
            return
        loaded = [im for im in await self.loader.load(items) if im is not None]
        if loaded:
            await self.vectors.vectors(loaded)

    async def apply(self, inp: StepInput) -> StepOutput:
        if self.vectors is None:
            return StepOutput(inp.negatives, MinerStatus(status="disabled", error=self.disabled))
        start = time.perf_counter()
        try:
            image = await self.loader.get(inp.item)
        except InvalidInput as exc:  # only without a preflight: refused there otherwise
            return StepOutput(inp.negatives, MinerStatus(status="error", error=str(exc)))
        img = (await self.vectors.vectors([image]))[0]
        texts = await self.embedder.encode([inp.positive, *(n.phrase for n in inp.negatives)])
        scores = texts @ img
        pos = float(scores[0])
        ranked: list[tuple[int, int, Negative]] = []
        counts = dict.fromkeys(("hard", "neutral", "may_be_present", "drop"), 0)
        for i, (neg, s) in enumerate(zip(inp.negatives, scores[1:].tolist(), strict=True)):
            verdict = self.rule.verdict(pos, s)
            counts[verdict] += 1
            if verdict != "drop":
                ev = {"score": round(s, 4), "positive_score": round(pos, 4), "verdict": verdict}
                ranked.append((TIER[verdict], i, _with(neg, self.name, ev)))
        ranked.sort(key=lambda t: (t[0], t[1]))
        note = (
            f"image {image.sha256[:12]} ({image.size[0]}x{image.size[1]}): {counts['hard']} hard"
            f" first, {counts['may_be_present']} scoring like the positive demoted,"
            f" {counts['drop']} scoring above it dropped"
        )
        ms = (time.perf_counter() - start) * 1000
        status = MinerStatus(status="ok", candidates=len(inp.negatives), ms=round(ms, 2), note=note)
        return StepOutput([n for _, _, n in ranked], status)

    async def aclose(self) -> None:
        await self.loader.aclose()


@dataclass
class StepStores:
    """What the steps read besides the embedder: the service cache (image embeddings) and the
    verification rounds' store (None = no rounds step)."""

    cache: CacheLike | None = None
    verify: VerifyStore | None = None


def image_steps(
    settings: Settings,
    embedder: CachedEmbedder,
    stores: StepStores,
    verifiers: dict[str, VerifierFactory] | None = None,
) -> list[ItemStep]:
    """The steps of this package, in the order they run: image-text, rounds, online verifier
    (when ``HARDNEG_VERIFIER`` names one; ``verifiers`` overrides the entry points)."""
    from hardneg.miners.verify import VerifyOptions, build_verifier
    from hardneg.service.images.detector_steps import RoundsStep, VerifierStep

    loader = ImageLoader(ImageSource(settings))
    why = no_tower_reason(embedder)
    vectors = None if why else ImageVectors(embedder, stores.cache, settings.image_cache_ttl_s)
    steps: list[ItemStep] = [
        ImageTextStep(loader, embedder, vectors, ImageRule.from_settings(settings), why)
    ]
    if stores.verify is not None:
        steps.append(RoundsStep(stores.verify))
    if settings.verifier:
        verifier, reason = build_verifier(settings.verifier, settings, verifiers)
        opts = VerifyOptions(settings.verify_score_threshold, settings.verify_iou_threshold)
        steps.append(VerifierStep(loader, verifier, reason, opts, settings.verifier_timeout_s))
    return steps
