"""Detector evidence as item steps: offline rounds (``verify_rounds``) and an online verifier.

Both apply the one rule of :mod:`hardneg.miners.verify.outcome`: a negative the detector was
fooled by on this image leads, one it ignored is demoted, one it fires on away from every
positive is kept out (held for a human check offline; dropped online). The re-ordering is stable
and reads both steps' evidence, so the image step's order holds within each tier.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hardneg.miners.errors import InvalidInput
from hardneg.miners.knowledge.normalize import match_key
from hardneg.miners.types import MinerStatus, Negative, RequestItem
from hardneg.miners.verify.base import VerifyImage
from hardneg.miners.verify.outcome import Instance, decide
from hardneg.miners.verify.records import standing
from hardneg.service.steps import StepInput, StepOutput

if TYPE_CHECKING:
    from hardneg.miners.verify import Verifier, VerifyOptions, VerifyStore
    from hardneg.service.images.steps import ImageLoader

__all__ = ["RoundsStep", "VerifierStep", "detector_order"]

log = logging.getLogger(__name__)

DETECTOR_KEYS = ("verify_rounds", "verifier")
_TIER = {"lead": 0, "neutral": 1, "demote": 2}


def _tier(neg: Negative) -> int:
    """Lead when any detector evidence leads, demoted when some demotes and none leads."""
    found = {neg.evidence[k].get("standing") for k in DETECTOR_KEYS if k in neg.evidence}
    return min((_TIER[s] for s in found if s in _TIER), default=1)


def detector_order(negatives: list[Negative]) -> list[Negative]:
    return sorted(negatives, key=_tier)  # stable: earlier steps' order holds within a tier


def _with(neg: Negative, key: str, evidence: dict[str, Any]) -> Negative:
    return neg.model_copy(update={"evidence": {**neg.evidence, key: evidence}})


def _ok(start: float, n: int, note: str) -> MinerStatus:
    ms = round((time.perf_counter() - start) * 1000, 2)
    return MinerStatus(status="ok", candidates=n, ms=ms, note=note)


class RoundsStep:
    """Outcomes of ingested rounds for the item's image id (``item.id``). It applies once a
    first round exists (looked up in the preflight of each request until then), so answers
    without rounds keep the pipeline's cached fast path and carry no noise."""

    name = "verify_rounds"

    def __init__(self, store: VerifyStore) -> None:
        self.store = store
        self._any = False  # a round exists (rounds are never deleted: once true, stays true)

    def applies(self, item: RequestItem) -> bool:
        return self._any and bool(item.id)

    async def prepare(self, items: Sequence[RequestItem]) -> None:
        """One small read per request until the first round exists. A store that fails before
        any round was seen is logged and asked again next request (there is nothing to apply
        yet); once rounds exist, ``apply`` reports a failing store in the item's status."""
        if self._any or not any(it.id for it in items):
            return
        try:
            self._any = bool(await self.store.rounds())
        except Exception as exc:
            log.warning("verification store unavailable: %r", exc)

    async def apply(self, inp: StepInput) -> StepOutput:
        start = time.perf_counter()
        try:
            records = await self.store.outcomes(inp.item.id)
        except Exception as exc:  # the rounds' store down: the ranking stands, the status says so
            err = f"verification store unavailable: {type(exc).__name__}: {exc}"
            return StepOutput(inp.negatives, MinerStatus(status="error", error=err))
        if not records:
            note = f"no verification rounds cover image {inp.item.id!r}"
            return StepOutput(inp.negatives, _ok(start, 0, note))
        kept: list[Negative] = []
        counts = dict.fromkeys(("lead", "neutral", "demote", "hold", "drop"), 0)
        for neg in inp.negatives:
            rec = records.get(match_key(neg.phrase))
            if rec is None:
                kept.append(neg)
                continue
            where, ev = standing(rec)
            counts[where] += 1
            if where not in ("hold", "drop"):
                kept.append(_with(neg, self.name, ev | {"standing": where}))
        note = (
            f"image {inp.item.id!r}: {counts['lead']} fooled the detector (first),"
            f" {counts['demote']} ignored (demoted), {counts['hold']} held out (fires elsewhere,"
            f" awaiting a human check), {counts['drop']} checked present (dropped)"
        )
        return StepOutput(detector_order(kept), _ok(start, len(records), note))

    async def aclose(self) -> None:
        return None  # the store belongs to whoever opened it


class VerifierStep:
    """Asks a :class:`~hardneg.miners.verify.base.Verifier` about the item's image, online."""

    name = "verifier"

    def __init__(
        self,
        loader: ImageLoader,
        verifier: Verifier | None,
        reason: str,
        opts: VerifyOptions,
        timeout_s: float,
    ) -> None:
        self.loader, self.verifier, self.reason, self.opts = loader, verifier, reason, opts
        self.timeout_s = float(verifier.timeout_s or timeout_s) if verifier else timeout_s

    def applies(self, item: RequestItem) -> bool:
        return item.image is not None

    async def prepare(self, items: Sequence[RequestItem]) -> None:
        if self.verifier is None:
            await self.loader.check(items)
        else:
            await self.loader.load(items)

    async def apply(self, inp: StepInput) -> StepOutput:
        if self.verifier is None:
            return StepOutput(inp.negatives, MinerStatus(status="disabled", error=self.reason))
        start = time.perf_counter()
        try:
            image = await self.loader.get(inp.item)
        except InvalidInput as exc:  # only without a preflight: refused there otherwise
            return StepOutput(inp.negatives, MinerStatus(status="error", error=str(exc)))
        phrases = list(dict.fromkeys([inp.positive, *(n.phrase for n in inp.negatives)]))
        ask = VerifyImage(image.data, image.sha256, *image.size)
        try:
            found = await asyncio.wait_for(self.verifier.detect(ask, phrases), self.timeout_s)
        except TimeoutError as exc:
            why = str(exc) or f"no answer within {self.timeout_s:g}s"
            ms = round((time.perf_counter() - start) * 1000, 2)
            return StepOutput(inp.negatives, MinerStatus(status="timeout", ms=ms, error=why))
        except Exception as exc:
            err = f"{type(exc).__name__}: {exc}"
            ms = round((time.perf_counter() - start) * 1000, 2)
            return StepOutput(inp.negatives, MinerStatus(status="error", ms=ms, error=err))
        return self._rank(inp, found, start)

    def _rank(self, inp: StepInput, found: dict[str, Any], start: float) -> StepOutput:
        t = self.opts.score_threshold
        truth = [
            Instance(inp.positive, d.bbox, d.rle)
            for d in found.get(inp.positive, [])
            if d.score >= t
        ]
        kept: list[Negative] = []
        counts = dict.fromkeys(("fooled", "ignored", "elsewhere"), 0)
        where = {"fooled": "lead", "ignored": "demote", "elsewhere": "hold"}
        assert self.verifier is not None
        for neg in inp.negatives:
            d = decide(found.get(neg.phrase, []), truth, self.opts)
            counts[d.outcome] += 1
            if d.outcome != "elsewhere":
                ev = d.evidence() | {"standing": where[d.outcome], "verifier": self.verifier.name}
                kept.append(_with(neg, self.name, ev))
        note = (
            f"{self.verifier.name}: {counts['fooled']} fooled (first), {counts['ignored']} ignored"
            f" (demoted), {counts['elsewhere']} fire elsewhere (dropped: may be present)"
        )
        if not truth:
            note += "; the positive itself was not detected, so every firing counts as elsewhere"
        return StepOutput(detector_order(kept), _ok(start, len(inp.negatives), note))

    async def aclose(self) -> None:
        if self.verifier is not None:
            await self.verifier.aclose()
