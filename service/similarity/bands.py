"""Calibrated similarity bands per embedder family (see docs/similarity.md for the figures).

A candidate negative is kept when min <= cos(positive, candidate) <= max. The numbers differ per
encoder: CLIP text embeddings of "a photo of a {}." prompts sit high and close together, MiniLM
sentence embeddings spread much wider, so one band cannot serve both.
"""

from __future__ import annotations

# MiniLM (all-MiniLM-L6-v2, raw phrases): measured by bench/calibrate_band.py over LVIS v1.
MINILM_BAND = (0.30, 0.91)
# open_clip ViT-B-32 family ("a photo of a {}."): SA-Co practice, hard > 0.7, easy < 0.5.
CLIP_BAND = (0.70, 0.96)
# Anything else: wide, so a new encoder filters little until it is calibrated.
UNKNOWN_BAND = (0.20, 0.97)


def default_band(embedder_id: str) -> tuple[float, float]:
    """(min_similarity, max_similarity) defaults for an embedder id such as ``minilm:...``."""
    family = embedder_id.split(":", 1)[0]
    if family == "minilm":
        return MINILM_BAND
    if family == "open_clip":
        return CLIP_BAND
    return UNKNOWN_BAND
