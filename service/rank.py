"""Merge miners' candidates, apply the exclusion guard and the similarity filter, rank, explain.

Called by the pipeline for one item. Every candidate that does not make it is counted against the
miners that proposed it, so a short answer says why in the miner statuses.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hardneg.miners.knowledge.normalize import match_key, normalize
from hardneg.miners.types import Candidate, Kind, Negative, RequestItem

if TYPE_CHECKING:
    import numpy as np

    from hardneg.miners.knowledge import Knowledge
    from hardneg.miners.knowledge.guard import Guard
    from hardneg.service.settings import Settings
    from hardneg.service.similarity import CachedEmbedder


@dataclass(frozen=True)
class Band:
    """The similarity band a negative must fall in: hard enough, not a near-synonym."""

    lo: float
    hi: float


@dataclass
class RankReport:
    """What the ranker did with one item's candidates, per miner (the pipeline writes the notes)."""

    proposed: Counter[str] = field(default_factory=Counter)  # distinct phrases per miner
    guarded: Counter[str] = field(default_factory=Counter)  # blocked by the exclusion guard
    drops: Counter[str] = field(default_factory=Counter)  # filter drop reason -> count


@dataclass
class Merged:
    """One phrase for one positive, with every miner that proposed it."""

    phrase: str
    for_positive: str
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)
    kinds: list[Kind] = field(default_factory=list)

    @property
    def sources(self) -> list[str]:
        return sorted(self.evidence)


def merge(candidates: Sequence[Candidate]) -> list[Merged]:
    """Union of sources per (positive, phrase); phrases compared by their match key."""
    merged: dict[tuple[str, str], Merged] = {}
    for c in candidates:
        phrase = normalize(c.phrase)
        if not phrase:
            continue
        key = (c.for_positive, match_key(phrase))
        m = merged.setdefault(key, Merged(phrase=phrase, for_positive=c.for_positive))
        evidence = dict(c.evidence)
        if c.score is not None:
            evidence.setdefault("score", round(c.score, 4))
        m.evidence.setdefault(c.source, evidence)
        m.kinds.append(c.kind)
    return list(merged.values())


def _kind(m: Merged, knowledge: Knowledge) -> Kind:
    for kind in m.kinds:
        if kind != Kind.other:
            return kind
    return knowledge.kind_of(m.for_positive, m.phrase)


@dataclass
class Ranker:
    """Guards, filters and ranks one item's candidates for the pipeline."""

    embedder: CachedEmbedder
    knowledge: Knowledge
    settings: Settings
    band: Band
    k: int
    band_exempt: frozenset[str] = frozenset()  # miners whose candidates skip the band's floor

    async def rank(
        self, item: RequestItem, candidates: Sequence[Candidate], guard: Guard
    ) -> tuple[list[Negative], RankReport]:
        """Guard, filter, rank; the report counts what was lost and why."""
        merged = merge(candidates)
        report = RankReport()
        kept: list[Merged] = []
        for m in merged:
            report.proposed.update(m.sources)
            if guard.check(m.phrase) is None:
                kept.append(m)
            else:
                report.guarded.update(m.sources)
        negatives = await self._filter(item, kept, guard, report.drops) if kept else []
        return negatives, report

    async def _filter(
        self, item: RequestItem, kept: list[Merged], guard: Guard, drops: Counter[str]
    ) -> list[Negative]:
        positives = list(dict.fromkeys(item.positives))
        protected = list(dict.fromkeys(guard.protected_phrases)) or positives
        phrases = list(dict.fromkeys(m.phrase for m in kept))
        heads = [self.knowledge.split_attributes(p)[1] or p for p in positives]
        vecs = await self.embedder.encode([*positives, *protected, *phrases])
        anchors = _anchors(
            positives, heads, vecs[: len(positives)], await self.embedder.encode(heads)
        )
        prot = vecs[len(positives) : len(positives) + len(protected)]
        base = len(positives) + len(protected)
        row = {p: base + i for i, p in enumerate(phrases)}
        ranked = []
        for positive in positives:
            group = [m for m in kept if m.for_positive == positive]
            cand = vecs[[row[m.phrase] for m in group]] if group else vecs[:0]
            ranked.append(self._select(positive, group, anchors[positive], cand, prot, drops))
        return _round_robin(ranked, self.k)

    def _select(
        self,
        positive: str,
        group: list[Merged],
        anchor: np.ndarray,
        cand: np.ndarray,
        prot: np.ndarray,
        drops: Counter[str],
    ) -> list[Negative]:
        """Exempt candidates (a model really confused them) first, then the band's; kinds capped."""
        from hardneg.service.similarity.filter import FilterOptions, select

        if not group:
            return []
        s = self.settings
        out: list[Negative] = []
        exempt = [i for i, m in enumerate(group) if self.band_exempt & set(m.evidence)]
        regular = [i for i, m in enumerate(group) if i not in set(exempt)]
        for rows, floor in ((exempt, -1.0), (regular, self.band.lo)):
            if not rows:
                continue
            opts = FilterOptions(
                k=2 * self.k,
                min_similarity=floor,
                max_similarity=self.band.hi,
                dedupe_similarity=s.dedupe_similarity,
                mmr_lambda=s.mmr_lambda,
            )
            chosen, dropped = select(anchor, cand[rows], prot, opts)
            drops.update(dropped)
            out += [self._negative(positive, group[rows[c.index]], c.score) for c in chosen]
        return _cap_kinds(out, self.k, s.max_kind_share)

    def _negative(self, positive: str, m: Merged, score: float) -> Negative:
        return Negative(
            phrase=m.phrase,
            score=round(float(score), 4),
            for_positive=positive,
            kind=_kind(m, self.knowledge),
            sources=m.sources,
            evidence=m.evidence,
        )


CAPPED_KINDS = frozenset({Kind.colour, Kind.size, Kind.pattern, Kind.material, Kind.context})


def _cap_kinds(ranked: list[Negative], k: int, share: float) -> list[Negative]:
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


def _anchors(
    positives: list[str], heads: list[str], pos: np.ndarray, head: np.ndarray
) -> dict[str, np.ndarray]:
    """Reference vector per positive: with attribute words, the mean of the phrase and its head
    noun, so "yellow school bus" is measured as a school bus that is yellow, not as yellow."""
    out: dict[str, np.ndarray] = {}
    for i, p in enumerate(positives):
        v = pos[i] if heads[i] == p else pos[i] + head[i]
        out[p] = (v / max(float((v @ v) ** 0.5), 1e-12)).astype(pos.dtype)
    return out


def _round_robin(ranked: list[list[Negative]], k: int) -> list[Negative]:
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
