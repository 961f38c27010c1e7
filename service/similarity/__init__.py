"""Similarity layer: text embedders, the FAISS vector index and the similarity filter.

Importing this package is cheap: torch, open_clip, sentence-transformers and faiss load only when
an embedder or index is built.
"""

from __future__ import annotations

from hardneg.service.similarity.bands import default_band
from hardneg.service.similarity.cached import CachedEmbedder, embedding_key
from hardneg.service.similarity.embedder import (
    MiniLMEmbedder,
    OpenClipEmbedder,
    load_embedder,
    parse_spec,
)
from hardneg.service.similarity.filter import FilterOptions, Selected, select
from hardneg.service.similarity.index import VectorIndex
from hardneg.service.similarity.weights import EmbedderUnavailable

__all__ = [
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
