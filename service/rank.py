"""Merge miners' candidates, apply the exclusion guard and the similarity filter, rank, explain.

Called by the pipeline for one item. Every candidate that does not make it is counted against the
miners that proposed it, so a short answer says why in the miner statuses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hardneg.miners.knowledge.normalize import match_key, normalize
from hardneg.miners.knowledge.swaps import unrealistic
from hardneg.miners.types import Candidate, Kind, Negative
from hardneg.service.scoring import Model, features, model_for

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
    lo_explicit: bool = False  # set by the caller or a setting: applies even with a scoring model


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
    """Guards, filters and ranks one positive's candidates (the pipeline's per-positive stage)."""

    embedder: CachedEmbedder
    knowledge: Knowledge
    settings: Settings
    band: Band
    k: int
    band_exempt: frozenset[str] = frozenset()  # miners whose candidates skip the band's floor

    async def rank(
        self, positive: str, candidates: Sequence[Candidate], guard: Guard
    ) -> tuple[list[Negative], RankReport]:
        """Up to 4k ranked negatives for ``positive`` (exempt ones first, then the band's, each
        in MMR order); the report counts what was lost and why."""
        merged = merge(candidates)
        report = RankReport()
        kept: list[Merged] = []
        for m in merged:
            report.proposed.update(m.sources)
            if guard.check(m.phrase) is not None:
                report.guarded.update(m.sources)
            elif unrealistic(self.knowledge, positive, m.phrase) is not None:
                report.drops["unnatural"] += 1
            else:
                kept.append(m)
        if not kept:
            return [], report
        return await self._filter(positive, kept, guard, report.drops), report

    async def _filter(
        self, positive: str, kept: list[Merged], guard: Guard, drops: Counter[str]
    ) -> list[Negative]:
        protected = list(dict.fromkeys(guard.protected_phrases)) or [positive]
        phrases = list(dict.fromkeys(m.phrase for m in kept))
        head = self.knowledge.split_attributes(positive)[1] or positive
        vecs = await self.embedder.encode([positive, head, *protected, *phrases])
        anchor = _anchor(positive, head, vecs[0], vecs[1])
        prot = vecs[2 : 2 + len(protected)]
        cand = vecs[2 + len(protected) :]
        return self._select(positive, kept, anchor, cand, prot, drops)

    def _select(
        self,
        positive: str,
        group: list[Merged],
        anchor: np.ndarray,
        cand: np.ndarray,
        prot: np.ndarray,
        drops: Counter[str],
    ) -> list[Negative]:
        """Exempt candidates (a model really confused them) first, then the rest. With a fitted
        scoring model (service/scoring.py) similarity does not veto: the band keeps only its
        upper edge, candidates are ordered by P(hard) and those under the quality floor are
        dropped; without one the band's lower edge applies and MMR orders."""
        from hardneg.service.similarity.filter import FilterOptions, select

        s = self.settings
        model = model_for(self.embedder.id)
        out: list[Negative] = []
        exempt = [i for i, m in enumerate(group) if self.band_exempt & set(m.evidence)]
        regular = [i for i, m in enumerate(group) if i not in set(exempt)]
        lo = self.band.lo if model is None or self.band.lo_explicit else -1.0
        for rows, floor in ((exempt, -1.0), (regular, lo)):
            if not rows:
                continue
            opts = FilterOptions(
                k=2 * self.k if model is None else len(rows),
                min_similarity=floor,
                max_similarity=self.band.hi,
                dedupe_similarity=s.dedupe_similarity,
                mmr_lambda=s.mmr_lambda,
            )
            chosen, dropped = select(anchor, cand[rows], prot, opts)
            drops.update(dropped)
            picked = [(group[rows[c.index]], c.score) for c in chosen]
            if model is not None and rows is regular:
                picked = self._by_model(positive, picked, model, drops)
            out += [self._negative(positive, m, score) for m, score in picked]
        return out

    def _by_model(
        self, positive: str, picked: list[tuple[Merged, float]], model: Model, drops: Counter[str]
    ) -> list[tuple[Merged, float]]:
        """Order by P(hard); drop those under the floor or likely invalid (P(invalid) above the
        model's ceiling: a near-synonym, a kind of the positive); at most 2k (the caps choose)."""
        floor = self.settings.quality_floor
        floor = model.floor if floor is None else floor
        good: list[tuple[float, Merged, float]] = []
        for m, sim in picked:
            p = model.probabilities(features(self.knowledge, positive, m.phrase, m.evidence, sim))
            if p["H"] < floor:
                drops["below_quality_floor"] += 1
            elif floor > 0 and p["I"] > model.max_invalid:
                drops["likely_invalid"] += 1
            else:
                good.append((p["H"], m, sim))
        good.sort(key=lambda x: (-x[0], x[1].phrase))
        return [(m, sim) for _, m, sim in good[: 2 * self.k]]

    def _negative(self, positive: str, m: Merged, score: float) -> Negative:
        return Negative(
            phrase=m.phrase,
            score=round(float(score), 4),
            for_positive=positive,
            kind=_kind(m, self.knowledge),
            sources=m.sources,
            evidence=m.evidence,
        )


def _anchor(positive: str, head: str, pos: np.ndarray, head_vec: np.ndarray) -> np.ndarray:
    """Reference vector of a positive: with attribute words, the mean of the phrase and its head
    noun, so "yellow school bus" is measured as a school bus that is yellow, not as yellow."""
    v = pos if head == positive else pos + head_vec
    return (v / max(float((v @ v) ** 0.5), 1e-12)).astype(pos.dtype)
