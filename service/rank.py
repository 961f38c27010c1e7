"""Merge miners' candidates, apply the exclusion guard and the similarity filter, rank, explain.

Called by the pipeline for one item. Every candidate that does not make it is counted against the
miners that proposed it, so a short answer says why in the miner statuses.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hardneg.miners.normalize import match_key, normalize
from hardneg.miners.types import Candidate, Kind, MinerStatus, Negative, RequestItem

if TYPE_CHECKING:
    import numpy as np

    from hardneg.miners.knowledge import Knowledge
    from hardneg.service.guard import Guard
    from hardneg.service.settings import Settings
    from hardneg.service.similarity import CachedEmbedder


@dataclass(frozen=True)
class Band:
    """The similarity band a negative must fall in: hard enough, not a near-synonym."""

    lo: float
    hi: float


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


async def rank_item(
    item: RequestItem,
    candidates: Sequence[Candidate],
    guard: Guard,
    embedder: CachedEmbedder,
    knowledge: Knowledge,
    k: int,
    band: Band,
    settings: Settings,
    statuses: dict[str, MinerStatus],
) -> list[Negative]:
    """Guard, filter and rank one item's candidates; annotate ``statuses`` with what was lost."""
    merged = merge(candidates)
    guarded: Counter[str] = Counter()
    kept: list[Merged] = []
    for m in merged:
        if guard.check(m.phrase) is None:
            kept.append(m)
        else:
            guarded.update(m.sources)
    drops: Counter[str] = Counter()
    negatives = await _filter(item, kept, guard, embedder, knowledge, k, band, settings, drops)
    _explain(statuses, merged, guarded, negatives, k, band, drops)
    return negatives


async def _filter(
    item: RequestItem,
    kept: list[Merged],
    guard: Guard,
    embedder: CachedEmbedder,
    knowledge: Knowledge,
    k: int,
    band: Band,
    settings: Settings,
    drops: Counter[str],
) -> list[Negative]:
    from hardneg.service.similarity.filter import FilterOptions, select

    if not kept:
        return []
    positives = list(dict.fromkeys(item.positives))
    protected = list(dict.fromkeys(guard.protected_phrases)) or positives
    phrases = list(dict.fromkeys(m.phrase for m in kept))
    vecs = await embedder.encode([*positives, *protected, *phrases])
    pos_vec = {p: vecs[i] for i, p in enumerate(positives)}
    prot = vecs[len(positives) : len(positives) + len(protected)]
    row = {p: len(positives) + len(protected) + i for i, p in enumerate(phrases)}
    opts = FilterOptions(
        k=k,
        min_similarity=band.lo,
        max_similarity=band.hi,
        dedupe_similarity=settings.dedupe_similarity,
        mmr_lambda=settings.mmr_lambda,
    )
    ranked: list[list[Negative]] = []
    for positive in positives:
        group = [m for m in kept if m.for_positive == positive]
        ranked.append(
            _select_group(
                positive, group, pos_vec[positive], vecs, row, prot, opts, knowledge, drops, select
            )
        )
    return _round_robin(ranked, k)


def _select_group(
    positive: str,
    group: list[Merged],
    pos: np.ndarray,
    vecs: np.ndarray,
    row: dict[str, int],
    prot: np.ndarray,
    opts: Any,
    knowledge: Knowledge,
    drops: Counter[str],
    select: Any,
) -> list[Negative]:
    if not group:
        return []
    cand = vecs[[row[m.phrase] for m in group]]
    chosen, dropped = select(pos, cand, prot, opts)
    drops.update(dropped)
    return [
        Negative(
            phrase=group[s.index].phrase,
            score=round(float(s.score), 4),
            for_positive=positive,
            kind=_kind(group[s.index], knowledge),
            sources=group[s.index].sources,
            evidence=group[s.index].evidence,
        )
        for s in chosen
    ]


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


def _explain(
    statuses: dict[str, MinerStatus],
    merged: list[Merged],
    guarded: Counter[str],
    negatives: list[Negative],
    k: int,
    band: Band,
    drops: Counter[str],
) -> None:
    """Per miner: how many of its candidates were guarded, filtered and returned."""
    proposed: Counter[str] = Counter()
    for m in merged:
        proposed.update(m.sources)
    returned: Counter[str] = Counter()
    for neg in negatives:
        returned.update(neg.sources)
    short = len(negatives) < k
    filt = ", ".join(f"{v} {r.replace('_', ' ')}" for r, v in sorted(drops.items()) if v)
    for name, status in statuses.items():
        if status.status != "ok":
            continue
        n = proposed[name]
        parts = [
            f"{n} distinct proposed",
            f"{guarded[name]} blocked by the exclusion guard",
            f"{n - guarded[name] - returned[name]} removed by similarity filter/ranking",
            f"{returned[name]} returned",
        ]
        note = "; ".join(parts)
        if short:
            note += f" (fewer than k={k}; band [{band.lo:.2f}, {band.hi:.2f}]"
            note += f"; filter: {filt})" if filt else ")"
        status.note = note
