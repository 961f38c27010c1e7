"""load_embedder: CLIP weights from a checkpoint or a cache, MiniLM fallback, clear errors offline."""

from __future__ import annotations

import logging
import socket
import time

import numpy as np
import open_clip
import pytest
import torch

from hardneg.service.settings import Settings
from hardneg.service.similarity import weights
from hardneg.service.similarity.embedder import (
    EmbedderUnavailable,
    MiniLMEmbedder,
    OpenClipEmbedder,
    load_embedder,
    parse_spec,
)


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_default_setting_falls_back_to_minilm_offline_with_a_warning(caplog):
    # conftest sets HF_HUB_OFFLINE=1 and this machine has no CLIP weights cached.
    settings = Settings(_env_file=None)
    with caplog.at_level(logging.WARNING):
        emb = load_embedder(settings)
    assert isinstance(emb, MiniLMEmbedder) and emb.id == "minilm:all-MiniLM-L6-v2"
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("falling back to minilm:all-MiniLM-L6-v2" in m and "ViT-B-32" in m for m in lines)


def test_without_fallback_the_error_names_model_tag_and_fix():
    settings = Settings(_env_file=None, embedder_fallback=False)
    with pytest.raises(EmbedderUnavailable) as err:
        load_embedder(settings)
    msg = str(err.value)
    assert "'ViT-B-32'" in msg and "'laion2b_s34b_b79k'" in msg
    assert "HARDNEG_CLIP_CHECKPOINT" in msg and "cache the weights" in msg


def test_unreachable_hub_fails_fast_instead_of_retrying(monkeypatch):
    # No HF_HUB_OFFLINE, and the hub endpoint refuses connections (as on this machine).
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    monkeypatch.setattr(constants, "ENDPOINT", _closed_port_url())
    start = time.monotonic()
    with pytest.raises(EmbedderUnavailable, match="unreachable"):
        weights.resolve_pretrained("ViT-B-32", "laion2b_s34b_b79k")
    assert time.monotonic() - start < weights.PROBE_TIMEOUT_S + 5  # no minute of retries


def test_local_checkpoint_loads_through_the_setting(tiny_checkpoint):
    settings = Settings(
        _env_file=None,
        embedder="open_clip:hardneg-tiny:some-tag",
        clip_checkpoint=tiny_checkpoint,
        embedder_fallback=False,
        device="cpu",
    )
    emb = load_embedder(settings)
    assert isinstance(emb, OpenClipEmbedder)
    assert emb.id.startswith("open_clip:hardneg-tiny:file-") and ":t=" in emb.id
    assert emb.id.split(":")[2] == f"file-{weights.file_digest(tiny_checkpoint)}"
    ref = open_clip.create_model("hardneg-tiny", pretrained=None)
    ref.load_state_dict(torch.load(tiny_checkpoint, weights_only=True))
    tokens = emb.tokenizer(["a photo of a school bus."])
    with torch.inference_mode():
        expected = ref.eval().encode_text(tokens, normalize=True).numpy()
    np.testing.assert_allclose(emb.encode_text(["school bus"]), expected, atol=1e-5)


def test_checkpoint_path_in_the_embedder_setting_loads_too(tiny_checkpoint):
    settings = Settings(
        _env_file=None,
        embedder=f"open_clip:hardneg-tiny:{tiny_checkpoint}",
        embedder_fallback=False,
    )
    emb = load_embedder(settings)
    assert emb.id.split(":")[2] == f"file-{weights.file_digest(tiny_checkpoint)}"


def test_missing_checkpoint_file_is_a_clear_error(tiny_configs, tmp_path):
    settings = Settings(
        _env_file=None,
        embedder="open_clip:hardneg-tiny:x",
        clip_checkpoint=tmp_path / "nope.pt",
        embedder_fallback=False,
    )
    with pytest.raises(EmbedderUnavailable, match=r"nope\.pt.*not a file"):
        load_embedder(settings)


def test_named_tag_never_gives_random_weights(tiny_configs):
    settings = Settings(_env_file=None, embedder="open_clip:hardneg-tiny", embedder_fallback=False)
    with pytest.raises(EmbedderUnavailable, match="no weights"):
        load_embedder(settings)
    with pytest.raises(EmbedderUnavailable, match="no pretrained tag 'bogus'"):
        load_embedder(settings.model_copy(update={"embedder": "open_clip:ViT-B-32:bogus"}))


def test_cached_hub_weights_load_offline(tiny_checkpoint, tmp_path, monkeypatch):
    """A tag whose weights an earlier download left in the Hugging Face cache loads offline.

    The cache folder is laid out as huggingface_hub writes it; the tag is registered in
    open_clip's pretrained table as a released model's tag would be.
    """
    from huggingface_hub import constants
    from open_clip import pretrained

    snap = tmp_path / "models--hardneg--tiny-test" / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True)
    (snap / "open_clip_pytorch_model.bin").write_bytes(tiny_checkpoint.read_bytes())
    (tmp_path / "models--hardneg--tiny-test" / "refs").mkdir()
    (tmp_path / "models--hardneg--tiny-test" / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setitem(
        pretrained._PRETRAINED, "hardneg-tiny", {"test": {"hf_hub": "hardneg/tiny-test/"}}
    )
    emb = OpenClipEmbedder("hardneg-tiny", pretrained="test", device="cpu")
    assert emb.id.startswith("open_clip:hardneg-tiny:test:t=")
    out = emb.encode_text(["school bus"])
    assert out.shape == (1, 32)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("open_clip:ViT-B-32:laion2b_s34b_b79k", ("open_clip", "ViT-B-32", "laion2b_s34b_b79k")),
        ("open_clip:ViT-B-32", ("open_clip", "ViT-B-32", None)),
        (
            "open_clip:hf-hub:timm/ViT-B-16-SigLIP",
            ("open_clip", "hf-hub:timm/ViT-B-16-SigLIP", None),
        ),
        ("minilm:all-MiniLM-L6-v2", ("minilm", "all-MiniLM-L6-v2", None)),
    ],
)
def test_embedder_spec_parsing(spec, expected):
    assert parse_spec(spec) == expected


@pytest.mark.parametrize("spec", ["clip", "minilm:other", "open_clip:", "sbert:foo"])
def test_unknown_embedder_spec_is_an_error_even_with_fallback(spec):
    with pytest.raises(EmbedderUnavailable, match="unknown embedder"):
        load_embedder(Settings(_env_file=None, embedder=spec))
