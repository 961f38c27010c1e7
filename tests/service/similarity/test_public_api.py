"""The names other modules import from hardneg.service.similarity stay put."""

from __future__ import annotations

import subprocess
import sys

import hardneg.service.similarity as sim
from hardneg.miners.base import Embedder


def test_exported_names():
    assert sorted(sim.__all__) == [
        "CachedEmbedder",
        "EmbedderUnavailable",
        "FilterOptions",
        "MiniLMEmbedder",
        "OpenClipEmbedder",
        "Selected",
        "VectorIndex",
        "default_band",
        "embedding_key",
        "load_embedder",
        "parse_spec",
        "select",
    ]
    assert issubclass(sim.EmbedderUnavailable, RuntimeError)


def test_cached_embedder_is_an_embedder(minilm):
    assert isinstance(minilm, Embedder)
    assert isinstance(sim.CachedEmbedder(minilm, None), Embedder)


def test_import_is_light():
    code = (
        "import sys, hardneg.service.similarity;"
        "print(sorted(m for m in ('torch', 'faiss', 'open_clip', 'sentence_transformers')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
