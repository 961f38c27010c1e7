"""The vocabulary miner: nearest neighbours of the positive in a FAISS index over a vocabulary."""

from __future__ import annotations

from hardneg.miners.vocabulary.miner import (
    Vocabulary,
    VocabularyMiner,
    build_index,
    default_vocabulary,
    index_path,
    load_or_build_index,
    load_vocabulary_file,
    vocabulary_from_phrases,
)

__all__ = [
    "Vocabulary",
    "VocabularyMiner",
    "build_index",
    "default_vocabulary",
    "index_path",
    "load_or_build_index",
    "load_vocabulary_file",
    "vocabulary_from_phrases",
]
