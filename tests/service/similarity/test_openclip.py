"""OpenClipEmbedder on tiny real open_clip models: trimmed context, templates, ids, batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hardneg.service.similarity.embedder import OpenClipEmbedder, templates_digest
from hardneg.service.similarity.text_tower import text_parts

PHRASES = [
    "school bus",
    "yellow school bus",
    "a very long phrase that describes a red double decker bus driving through a rainy city",
    "cat",
    "",
    "crème brûlée",
    "x " * 100,  # longer than the 77-token context: truncated by the tokenizer
]


def _reference(emb: OpenClipEmbedder, texts: list[str]) -> np.ndarray:
    """What open_clip's own full-context encode_text gives for one template."""
    tokens = emb.tokenizer([emb.templates[0].replace("{}", t) for t in texts])
    with torch.inference_mode():
        feats = emb.model.encode_text(tokens, normalize=True)
    return feats.numpy()


def _seq_lens(emb: OpenClipEmbedder) -> list[int]:
    """Record the sequence length the text transformer is run on."""
    seen: list[int] = []
    module = (
        emb.model.transformer
        if hasattr(emb.model, "token_embedding")
        else emb.model.text.transformer
    )
    module.register_forward_pre_hook(lambda _m, args: seen.append(int(args[0].shape[1])))
    return seen


@pytest.mark.parametrize("name", ["hardneg-tiny", "hardneg-tiny-custom"])
def test_trimmed_context_equals_full_context(tiny_configs, name):
    torch.manual_seed(0)
    emb = OpenClipEmbedder(name, device="cpu", batch_size=3)
    assert text_parts(emb.model)[0] is not None
    seen = _seq_lens(emb)
    trimmed = emb.encode_text(PHRASES)
    emb.trim_context = False
    full = emb.encode_text(PHRASES)
    np.testing.assert_allclose(trimmed, full, atol=1e-5)
    np.testing.assert_allclose(trimmed, _reference(emb, PHRASES), atol=1e-5)
    # the trimmed pass really ran on fewer positions: short batches far below 77
    assert min(seen) < 20 and max(seen) == 77


def test_untrimmable_tower_falls_back_to_full_context(tiny_configs):
    torch.manual_seed(0)
    emb = OpenClipEmbedder("hardneg-tiny-bidir", device="cpu")
    parts, why = text_parts(emb.model)
    assert parts is None and "bidirectional" in why
    seen = _seq_lens(emb)
    out = emb.encode_text(PHRASES[:3])
    np.testing.assert_allclose(out, _reference(emb, PHRASES[:3]), atol=1e-5)
    assert set(seen) == {77}


def test_rows_are_normalised_float32_in_input_order(tiny_configs):
    torch.manual_seed(0)
    emb = OpenClipEmbedder("hardneg-tiny", device="cpu", batch_size=2)
    out = emb.encode_text(PHRASES)
    assert out.dtype == np.float32 and out.shape == (len(PHRASES), emb.dim)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    # batching and length-sorting must not reorder rows: encode one at a time and compare
    singles = np.vstack([emb.encode_text([p]) for p in PHRASES])
    np.testing.assert_allclose(out, singles, atol=1e-5)
    assert emb.encode_text([]).shape == (0, emb.dim)


def test_templates_are_averaged_then_renormalised(tiny_configs):
    torch.manual_seed(0)
    templates = ["a photo of a {}.", "a drawing of a {}.", "{}"]
    emb = OpenClipEmbedder("hardneg-tiny", device="cpu", templates=templates)
    texts = ["school bus", "taxi"]
    per_template = []
    for t in templates:
        emb.templates = [t]
        per_template.append(_reference(emb, texts))
    expected = np.mean(per_template, axis=0)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    emb.templates = templates
    np.testing.assert_allclose(emb.encode_text(texts), expected, atol=1e-5)


def test_id_names_model_weights_and_templates(tiny_configs):
    a = OpenClipEmbedder("hardneg-tiny", device="cpu")
    b = OpenClipEmbedder("hardneg-tiny", device="cpu", templates=["{}"])
    assert a.id == f"open_clip:hardneg-tiny:random:t={templates_digest(['a photo of a {}.'])}"
    assert a.id != b.id  # other templates, other vectors: cache keys must differ


def test_bad_arguments_are_clear_errors(tiny_configs):
    with pytest.raises(ValueError, match="placeholder"):
        OpenClipEmbedder("hardneg-tiny", device="cpu", templates=["a photo"])
    with pytest.raises(ValueError, match="template"):
        OpenClipEmbedder("hardneg-tiny", device="cpu", templates=[])
    emb = OpenClipEmbedder("hardneg-tiny", device="cpu")
    with pytest.raises(TypeError, match="sequence of strings"):
        emb.encode_text("school bus")
    with pytest.raises(TypeError, match="strings"):
        emb.encode_text(["ok", 3])


def test_length_batches_cut_at_size_and_at_length_jumps():
    from hardneg.service.similarity.text_tower import length_batches

    assert length_batches([5] * 10, batch_size=4) == [(0, 4), (4, 8), (8, 10)]
    # 40 short rows then 2 long ones: the long ones get their own batch instead of padding 40
    lengths = [8] * 40 + [30, 31]
    assert length_batches(lengths, batch_size=256) == [(0, 40), (40, 42)]
    # a jump before min_batch rows does not cut (tiny batches are slow)
    assert length_batches([8, 8, 30], batch_size=256) == [(0, 3)]
    assert length_batches([], batch_size=4) == []


def test_trimming_runs_far_fewer_positions(tiny_configs):
    emb = OpenClipEmbedder("hardneg-tiny", device="cpu", batch_size=64)
    texts = ["cat", "school bus", "a red double decker bus"] * 30
    full = len(texts) * 77
    assert emb.positions_processed(texts) < full / 5
    emb.trim_context = False
    assert emb.positions_processed(texts) == full
