"""The false-positive miner's per-image part, as an item step: for an item whose id is an image
the detector was run on, the concepts it predicted there that are not present come first.

The miner mines a positive's confusions (shared by every image, cached per positive); this step
adds what is specific to one image, on every request, through the item's exclusion guard.
"""

from __future__ import annotations

from hardneg.miners.false_positive.miner import FalsePositiveMiner
from hardneg.miners.false_positive.records import EMPTY_VERSION
from hardneg.miners.knowledge import match_key
from hardneg.miners.types import Kind, Negative, RequestItem
from hardneg.service.similarity import CachedEmbedder
from hardneg.service.steps import StepInput, StepOutput


class FalsePositiveImageStep:
    """Prepends an image's own image-level false positives to each positive's negatives."""

    name = "false_positive:image"

    def __init__(self, miner: FalsePositiveMiner, embedder: CachedEmbedder) -> None:
        self.miner = miner
        self.embedder = embedder

    def applies(self, item: RequestItem) -> bool:
        return bool(item.id) and self.miner.store.peek_version() != EMPTY_VERSION

    async def apply(self, inp: StepInput) -> StepOutput:
        taken = {match_key(p) for p in (*inp.item.positives, *inp.item.present, *inp.item.exclude)}
        found = await self.miner.image_candidates(inp.item.id, inp.positive, taken)
        found = [c for c in found if inp.blocked(c.phrase) is None]
        if not found:
            return StepOutput(inp.negatives)
        vecs = await self.embedder.encode([inp.positive, *(c.phrase for c in found)])
        scores = vecs[1:] @ vecs[0]
        existing = {match_key(n.phrase): n for n in inp.negatives}
        first = []
        for c, score in zip(found, scores.tolist(), strict=True):
            prior = existing.get(match_key(c.phrase))
            evidence = {**(prior.evidence if prior else {}), self.miner.name: c.evidence}
            sources = sorted({*(prior.sources if prior else ()), self.miner.name})
            first.append(
                Negative(
                    phrase=prior.phrase if prior else c.phrase,
                    score=round(float(score), 4),
                    for_positive=inp.positive,
                    kind=prior.kind if prior else Kind.type,
                    sources=sources,
                    evidence=evidence,
                )
            )
        keys = {match_key(n.phrase) for n in first}
        rest = [n for n in inp.negatives if match_key(n.phrase) not in keys]
        return StepOutput(first + rest)

    async def aclose(self) -> None:
        return None
