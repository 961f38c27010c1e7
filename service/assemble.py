"""Per-item assembly: an item's answer from its positives' mined results, cheaply, per request.

Mining a positive (miners, guard against the positive's own relatives, similarity, ranking) does
not depend on the item it came from, so the pipeline mines each distinct positive once and caches
it as a :class:`PositiveResult`. What does depend on the item is applied here, on every request:
the guard for the item's present concepts, exclusions and other positives; near-duplicates of
those; the item steps (verdicts, images, detector outcomes); the cap per attribute kind; and the
round-robin over several positives. A bare concept with no item steps takes a precomputed path.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, Field

from hardneg.miners.knowledge import Guard, Knowledge, match_key
from hardneg.miners.types import ItemResult, Kind, MinerStatus, Negative, RequestItem
from hardneg.service.notes import combine_status, write_notes
from hardneg.service.rank import Band, RankReport
from hardneg.service.steps import ItemStep, StepInput

if TYPE_CHECKING:
    from hardneg.miners.base import Related
    from hardneg.service.similarity import CachedEmbedder

CAPPED_KINDS = frozenset({Kind.colour, Kind.size, Kind.pattern, Kind.material, Kind.context})


class PositiveResult(BaseModel):
    """One positive, mined: its ranked negatives (deeper than k, so the item's guard and steps
    can drop some), the miners' statuses and own notes, and what the ranker dropped and why."""

    positive: str
    negatives: list[Negative]
    miners: dict[str, MinerStatus]
    proposed: dict[str, int] = Field(default_factory=dict)
    guarded: dict[str, int] = Field(default_factory=dict)
    drops: dict[str, int] = Field(default_factory=dict)
    degraded: bool = False

    def report(self) -> RankReport:
        return RankReport(Counter(self.proposed), Counter(self.guarded), Counter(self.drops))


def is_bare(item: RequestItem) -> bool:
    """One positive, nothing present or excluded: the item's answer is its positive's."""
    return len(item.positives) == 1 and not item.present and not item.exclude


@dataclass
class Assembler:
    """Builds items' answers from positives' results (one per request)."""

    embedder: CachedEmbedder
    knowledge: Knowledge
    band: Band
    k: int
    max_kind_share: float
    steps: Sequence[ItemStep] = ()
    _memo: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def steps_apply(self, item: RequestItem) -> bool:
        return any(step.applies(item) for step in self.steps)

    def bare(self, result: PositiveResult) -> ItemResult:
        """The answer of a bare item (no id): what the cache stores for the fast path."""
        negatives = cap_kinds(result.negatives, self.k, self.max_kind_share)
        return self._finish(RequestItem(positives=[result.positive]), [result], negatives, {})

    async def item(
        self,
        item: RequestItem,
        results: Sequence[PositiveResult],
        related: Sequence[dict[str, Related]] = (),
    ) -> ItemResult:
        """The item's answer: its guard, near-duplicate check, steps, caps, round-robin."""
        guarded: Counter[str] = Counter()
        lists = [list(r.negatives) for r in results]
        guard = Guard.for_item(item.positives, item.present, item.exclude, self.knowledge, related)
        if not is_bare(item):
            lists = await self._guard(guard, lists, guarded)
        statuses: dict[str, MinerStatus] = {}
        for step in self.steps:
            if step.applies(item):
                lists = await self._step(step, item, results, lists, statuses, guard)
        capped = [cap_kinds(lst, self.k, self.max_kind_share) for lst in lists]
        return self._finish(item, results, round_robin(capped, self.k), statuses, guarded)

    async def _guard(
        self, guard: Guard, lists: list[list[Negative]], guarded: Counter[str]
    ) -> list[list[Negative]]:
        """Drop what the item shows or excludes (and their relatives), and near-duplicates of it."""
        protected = list(dict.fromkeys(guard.protected_phrases))
        phrases = list(dict.fromkeys(n.phrase for lst in lists for n in lst))
        vecs = await self._vectors([*protected, *phrases])
        prot, rows = vecs[: len(protected)], vecs[len(protected) :]
        near: dict[str, bool] = dict.fromkeys(phrases, False)
        if len(prot) and len(rows):  # one product for the item, not one per candidate
            sims = np.einsum("ij,kj->ik", prot, rows)  # no BLAS: its threads fight torch's
            near = dict(zip(phrases, (sims.max(axis=0) > self.band.hi).tolist(), strict=True))
        out = []
        for lst in lists:
            kept = []
            for n in lst:
                if near[n.phrase] or guard.check(n.phrase) is not None:
                    guarded.update(n.sources)
                else:
                    kept.append(n)
            out.append(kept)
        return out

    async def _vectors(self, texts: list[str]) -> np.ndarray:
        """Embeddings of ``texts``, remembered for this request's other items (a batch's items
        share their positives' candidates), so each phrase is looked up once per request."""
        memo = self._memo
        missing = [t for t in texts if t not in memo]
        if missing:
            memo.update(zip(missing, await self.embedder.encode(missing), strict=True))
        if not texts:
            return np.empty((0, self.embedder.dim), dtype=np.float32)
        return np.stack([memo[t] for t in texts])

    async def _step(
        self,
        step: ItemStep,
        item: RequestItem,
        results: Sequence[PositiveResult],
        lists: list[list[Negative]],
        statuses: dict[str, MinerStatus],
        guard: Guard,
    ) -> list[list[Negative]]:
        out, parts, notes = [], [], []
        for result, lst in zip(results, lists, strict=True):
            got = await step.apply(StepInput(item, result.positive, lst, self.k, guard.check))
            out.append(got.negatives)
            notes += got.notes
            if got.status is not None:
                parts.append(got.status)
        if parts:
            status = combine_status(parts)
            status.note = "; ".join(dict.fromkeys(notes)) or parts[0].note
            statuses[step.name] = status
        return out

    def _finish(
        self,
        item: RequestItem,
        results: Sequence[PositiveResult],
        negatives: list[Negative],
        step_statuses: dict[str, MinerStatus],
        guarded: Counter[str] | None = None,
    ) -> ItemResult:
        names = dict.fromkeys(n for r in results for n in r.miners)
        statuses, own = {}, {}
        for n in names:
            parts = [r.miners[n] for r in results if n in r.miners]
            statuses[n] = combine_status(parts)
            own[n] = [s.note for s in parts if s.note]
        report = RankReport()
        for r in results:
            rep = r.report()
            report.proposed.update(rep.proposed)
            report.guarded.update(rep.guarded)
            report.drops.update(rep.drops)
        report.guarded.update(guarded or Counter())
        write_notes(statuses, own, report, negatives, self.k, self.band)
        statuses.update(step_statuses)
        degraded = any(r.degraded for r in results) or any(
            s.status in ("error", "timeout") for s in step_statuses.values()
        )
        return ItemResult(id=item.id, negatives=negatives, miners=statuses, degraded=degraded)


def cap_kinds(ranked: list[Negative], k: int, share: float) -> list[Negative]:
    """At most ``share`` of k per attribute-swap kind, so 30 negatives are not 30 colour swaps;
    type swaps are the bulk of good negatives and stay uncapped. Capped ones fill any gap."""
    cap = max(1, math.ceil(k * share))
    counts: Counter[str] = Counter()
    out: list[Negative] = []
    spare: list[Negative] = []
    for n in ranked:
        if n.kind in CAPPED_KINDS and counts[n.kind] >= cap:
            spare.append(n)
            continue
        counts[n.kind] += 1
        out.append(n)
    return (out + spare)[:k]


def round_robin(ranked: list[list[Negative]], k: int) -> list[Negative]:
    """Interleave the positives' lists so every positive gets its share of the k negatives."""
    out: list[Negative] = []
    seen: set[str] = set()
    depth = max((len(r) for r in ranked), default=0)
    for i in range(depth):
        for lst in ranked:
            if i < len(lst) and match_key(lst[i].phrase) not in seen and len(out) < k:
                seen.add(match_key(lst[i].phrase))
                out.append(lst[i])
    return out
