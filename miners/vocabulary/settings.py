"""Settings of the vocabulary miner (``HARDNEG_VOCAB_PATH``, ``HARDNEG_INDEX_DIR`` ...)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from hardneg.miners.settings import MiningSettings


class VocabularySettings(MiningSettings):
    """Which vocabulary is indexed and where its FAISS index is kept."""

    vocab_path: Path | None = Field(
        None,
        description="Vocabulary file (JSON list or .txt, one phrase a line); unset = LVIS+COCO.",
    )
    index_dir: Path = Field(
        Path(".hardneg/index"),
        description="Where built FAISS indexes are stored and looked up (keyed by vocab + embedder).",
    )
    approx_index_threshold: int = Field(
        100_000, description="Vocabularies larger than this get an approximate (HNSW) index."
    )
