"""Tiny open_clip configs (random weights, built offline in well under a second) for embedder tests.

Each config is real open_clip data, registered with ``open_clip.add_model_config`` like a user's
own config would be; only the sizes are small so the tests stay fast on a 2-core box.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

_VISION = {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16}
_TEXT = {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2}

TINY_CONFIGS: dict[str, dict] = {
    # CLIP class: the text tower's parts live on the model itself.
    "hardneg-tiny": {"embed_dim": 32, "vision_cfg": _VISION, "text_cfg": _TEXT},
    # CustomTextCLIP: the text tower is a TextTransformer at model.text.
    "hardneg-tiny-custom": {
        "embed_dim": 32,
        "custom_text": True,
        "vision_cfg": _VISION,
        "text_cfg": {**_TEXT, "proj_bias": True},
    },
    # Bidirectional text tower pooled from the last position (SigLIP style): cannot be trimmed.
    "hardneg-tiny-bidir": {
        "embed_dim": 32,
        "custom_text": True,
        "vision_cfg": _VISION,
        "text_cfg": {**_TEXT, "no_causal_mask": True, "pool_type": "last"},
    },
}


@pytest.fixture(scope="session")
def tiny_configs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Register the tiny configs with open_clip; yields their names."""
    import open_clip

    folder = tmp_path_factory.mktemp("open_clip_configs")
    for name, cfg in TINY_CONFIGS.items():
        (folder / f"{name}.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(folder)
    yield list(TINY_CONFIGS)


@pytest.fixture(scope="session")
def tiny_checkpoint(tiny_configs: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved state_dict of a randomly initialised ``hardneg-tiny`` model (a user's checkpoint)."""
    import open_clip
    import torch

    torch.manual_seed(1234)
    model = open_clip.create_model("hardneg-tiny", pretrained=None)
    path = tmp_path_factory.mktemp("ckpt") / "tiny_open_clip.pt"
    torch.save(model.state_dict(), path)
    return path
