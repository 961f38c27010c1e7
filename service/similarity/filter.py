"""Similarity filter: keep candidates in the band, away from protected phrases, diverse (MMR).

Inputs are L2-normalised embeddings, so dot products are cosines. Every dropped candidate is
counted under its reason, so the pipeline can say why fewer than k negatives came back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DROP_REASONS = ("below_band", "above_band", "near_protected", "duplicate")


@dataclass
class FilterOptions:
    """Band, dedupe threshold and MMR trade-off (1 = hardest first, 0 = most diverse first)."""

    k: int
    min_similarity: float
    max_similarity: float
    dedupe_similarity: float = 0.97
    mmr_lambda: float = 0.7

    def check(self) -> None:
        """Raise ValueError on options that cannot mean anything."""
        if self.k < 0:
            raise ValueError(f"k must be >= 0, got {self.k}")
        if self.min_similarity > self.max_similarity:
            raise ValueError(
                f"min_similarity {self.min_similarity} is above max_similarity {self.max_similarity}"
            )
        if not 0.0 <= self.mmr_lambda <= 1.0:
            raise ValueError(f"mmr_lambda must be in [0, 1], got {self.mmr_lambda}")


@dataclass
class Selected:
    """One kept candidate: its row in the candidate array and cos(positive, candidate)."""

    index: int
    score: float


def _as_matrix(name: str, x: np.ndarray, dim: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.size == 0:
        return np.zeros((0, dim), dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"{name} must have shape (n, {dim}), got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def _check_positive(positive: np.ndarray) -> np.ndarray:
    pos = np.asarray(positive, dtype=np.float32)
    if pos.ndim != 1 or pos.size == 0:
        raise ValueError(f"positive must be a 1-D embedding, got shape {pos.shape}")
    if not np.isfinite(pos).all():
        raise ValueError("positive contains NaN or infinite values")
    return pos


def band_mask(
    sim: np.ndarray, prot_max: np.ndarray, opts: FilterOptions, drops: dict[str, int]
) -> np.ndarray:
    """Boolean mask of candidates inside the band and not near a protected phrase."""
    below = sim < opts.min_similarity
    above = ~below & (sim > opts.max_similarity)
    near = ~below & ~above & (prot_max > opts.max_similarity)
    drops["below_band"] += int(below.sum())
    drops["above_band"] += int(above.sum())
    drops["near_protected"] += int(near.sum())
    return ~(below | above | near)


def mmr(sim: np.ndarray, vecs: np.ndarray, opts: FilterOptions, drops: dict[str, int]) -> list[int]:
    """Greedy MMR over ``vecs``; candidates too close to a chosen one are dropped as duplicates."""
    alive = np.ones(len(sim), dtype=bool)
    closest = np.zeros(len(sim), dtype=np.float32)  # max cos to anything chosen so far
    chosen: list[int] = []
    lam = opts.mmr_lambda
    while len(chosen) < opts.k and alive.any():
        gain = lam * sim - (1.0 - lam) * closest
        gain[~alive] = -np.inf
        best = int(np.argmax(gain))
        chosen.append(best)
        alive[best] = False
        to_best = vecs @ vecs[best]
        # Before the first pick nothing is chosen, so the penalty starts at 0, not at -1.
        closest = to_best if len(chosen) == 1 else np.maximum(closest, to_best)
        dup = alive & (closest > opts.dedupe_similarity)
        drops["duplicate"] += int(dup.sum())
        alive &= ~dup
    return chosen


def select(
    positive: np.ndarray, candidates: np.ndarray, protected: np.ndarray, opts: FilterOptions
) -> tuple[list[Selected], dict[str, int]]:
    """Up to ``opts.k`` candidates in the band, ranked by MMR, and drop counts per reason.

    Drops: cos to positive below/above the band, cos to any protected row (positives, present,
    exclusions, synonyms) above ``max_similarity``, near-duplicate of a kept negative.
    """
    opts.check()
    pos = _check_positive(positive)
    cand = _as_matrix("candidates", candidates, pos.size)
    prot = _as_matrix("protected", protected, pos.size)
    drops = dict.fromkeys(DROP_REASONS, 0)
    if len(cand) == 0 or opts.k == 0:
        return [], drops
    sim = cand @ pos
    prot_max = (cand @ prot.T).max(axis=1) if len(prot) else np.full(len(cand), -np.inf)
    keep = np.flatnonzero(band_mask(sim, prot_max, opts, drops))
    picked = mmr(sim[keep], cand[keep], opts, drops)
    return [Selected(index=int(keep[i]), score=float(sim[keep[i]])) for i in picked], drops
