"""Calibrated bands: what they keep and drop with the real MiniLM model."""

from __future__ import annotations

import numpy as np
import pytest

from hardneg.service.similarity import FilterOptions, default_band, select


def test_band_per_family():
    lo, hi = default_band("minilm:all-MiniLM-L6-v2")
    assert 0.0 < lo < hi < 1.0
    clip_lo, clip_hi = default_band("open_clip:ViT-B-32:laion2b_s34b_b79k:t=0123abcd")
    assert clip_lo == 0.7 and clip_hi < 1.0  # SA-Co practice for CLIP: hard > 0.7
    assert clip_lo > lo  # CLIP prompt embeddings sit much higher than MiniLM's
    assert default_band("someother:model")[0] < lo


def test_minilm_band_keeps_hard_negatives_and_drops_easy_ones(minilm):
    positive = "yellow school bus"
    cands = ["red school bus", "yellow taxi", "school van", "minibus", "banana", "toothbrush"]
    vecs = minilm.encode_text([positive, *cands])
    lo, hi = default_band(minilm.id)
    chosen, drops = select(
        vecs[0], vecs[1:], vecs[:1], FilterOptions(k=30, min_similarity=lo, max_similarity=hi)
    )
    kept = {cands[s.index] for s in chosen}
    assert {"red school bus", "yellow taxi", "school van", "minibus"} <= kept
    assert not kept & {"banana", "toothbrush"} and drops["below_band"] == 2


@pytest.mark.slow
def test_minilm_band_leaves_30_vocabulary_neighbours_for_most_lvis_concepts(minilm):
    from hardneg.miners.knowledge import Knowledge

    entries = [e for e in Knowledge.load_default().vocabulary() if e.lvis_id is not None]
    phrases = [e.phrase for e in entries]
    vecs = minilm.encode_text(phrases)
    sims = vecs @ vecs.T
    np.fill_diagonal(sims, np.nan)
    lo, hi = default_band(minilm.id)
    in_band = ((sims >= lo) & (sims <= hi)).sum(axis=1)
    assert np.mean(in_band >= 30) >= 0.9
