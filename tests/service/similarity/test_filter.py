"""The similarity filter: band, protected phrases, near-duplicates, MMR diversity, drop counts."""

from __future__ import annotations

import numpy as np
import pytest

from hardneg.service.similarity.filter import FilterOptions, select


def at(cos: float, direction: int, dim: int = 8) -> np.ndarray:
    """Unit vector with cosine ``cos`` to e0, the rest of its length along e_direction."""
    v = np.zeros(dim, np.float32)
    v[0], v[direction] = cos, np.sqrt(1 - cos**2)
    return v


POS = at(1.0, 1)
OPTS = FilterOptions(k=10, min_similarity=0.3, max_similarity=0.9)


def test_band_edges_and_reasons():
    cands = np.stack([at(0.1, 1), at(0.95, 2), at(0.5, 3), at(0.3, 4), at(0.9, 5)])
    chosen, drops = select(POS, cands, np.zeros((0, 8)), OPTS)
    assert sorted(s.index for s in chosen) == [2, 3, 4]  # band edges are inclusive
    assert drops == {"below_band": 1, "above_band": 1, "near_protected": 0, "duplicate": 0}
    for s in chosen:
        assert s.score == pytest.approx(float(cands[s.index] @ POS))


def test_candidates_near_a_protected_phrase_are_dropped():
    present = at(0.5, 3)  # e.g. "red school bus" is in the image
    cands = np.stack([at(0.5, 3) * 0.999 + at(0.5, 2) * 0.0447, at(0.5, 4)])
    cands /= np.linalg.norm(cands, axis=1, keepdims=True)
    chosen, drops = select(POS, cands, present[None, :], OPTS)
    assert [s.index for s in chosen] == [1]
    assert drops["near_protected"] == 1


def test_near_duplicates_keep_the_first_chosen_only():
    a = at(0.8, 2)
    a_twin = (a + 0.01 * at(0.0, 3)) / np.linalg.norm(a + 0.01 * at(0.0, 3))
    b = at(0.6, 4)
    chosen, drops = select(POS, np.stack([a_twin, a, b]), np.zeros((0, 8)), OPTS)
    assert [s.index for s in chosen] == [1, 2]  # the harder of the twins is kept
    assert drops["duplicate"] == 1


def test_mmr_prefers_a_different_negative_over_a_close_variant():
    # three near-identical "colour swaps" (hard) and one other-type negative (a bit easier)
    base = at(0.8, 2)
    swaps = [base * 0.97 + at(0.0, d) * 0.243 for d in (3, 4, 5)]
    swaps = [s / np.linalg.norm(s) for s in swaps]
    other = at(0.7, 6)
    cands = np.stack([*swaps, other])
    diverse, _ = select(
        POS, cands, np.zeros((0, 8)), FilterOptions(k=2, min_similarity=0.3, max_similarity=0.9)
    )
    assert diverse[1].index == 3  # second pick is the different one, not another swap
    hardest, _ = select(
        POS,
        cands,
        np.zeros((0, 8)),
        FilterOptions(k=2, min_similarity=0.3, max_similarity=0.9, mmr_lambda=1.0),
    )
    assert [s.index for s in hardest] == [0, 1]  # lambda=1: hardness only, swaps win


def test_k_limits_and_empty_inputs():
    rng = np.random.default_rng(0)
    cands = rng.normal(size=(50, 8)).astype(np.float32)
    cands /= np.linalg.norm(cands, axis=1, keepdims=True)
    wide = FilterOptions(k=7, min_similarity=-1.0, max_similarity=1.0, dedupe_similarity=1.0)
    chosen, _ = select(POS, cands, np.zeros((0, 8)), wide)
    assert len(chosen) == 7 and len({s.index for s in chosen}) == 7
    assert select(POS, np.zeros((0, 8)), np.zeros((0, 8)), OPTS) == (
        [],
        dict.fromkeys(["below_band", "above_band", "near_protected", "duplicate"], 0),
    )
    assert select(POS, cands, np.zeros((0, 8)), FilterOptions(0, 0.0, 1.0))[0] == []


def test_bad_input_is_a_clear_error():
    cands = np.stack([at(0.5, 2)])
    with pytest.raises(ValueError, match="shape"):
        select(POS, np.ones((2, 7)), np.zeros((0, 8)), OPTS)
    with pytest.raises(ValueError, match="1-D"):
        select(np.ones((2, 8)), cands, np.zeros((0, 8)), OPTS)
    with pytest.raises(ValueError, match="NaN"):
        select(POS, np.full((1, 8), np.nan), np.zeros((0, 8)), OPTS)
    with pytest.raises(ValueError, match="above max_similarity"):
        select(POS, cands, np.zeros((0, 8)), FilterOptions(3, 0.9, 0.5))
    with pytest.raises(ValueError, match="mmr_lambda"):
        select(POS, cands, np.zeros((0, 8)), FilterOptions(3, 0.1, 0.5, mmr_lambda=2))
