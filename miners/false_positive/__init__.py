"""False-positive miner: confusions mined from a detector's predictions on labelled images.

Ingest COCO / LVIS / open-vocabulary ground truth with COCO-results predictions per model round
(:func:`ingest_round`), keep the confusion table in SQLite or Redis (:func:`open_store`), and
mine it with :class:`FalsePositiveMiner`. See docs/false_positives.md.
"""

from __future__ import annotations

from hardneg.miners.false_positive.ingest import IngestError, identity, phrase_of
from hardneg.miners.false_positive.matching import MatchOptions, MatchResult, match
from hardneg.miners.false_positive.miner import FalsePositiveMiner
from hardneg.miners.false_positive.records import IngestReport, IngestStats, RoundStats
from hardneg.miners.false_positive.rounds import ingest_round, prepare
from hardneg.miners.false_positive.store import FPStore, SqliteStore, open_store

__all__ = [
    "FPStore",
    "FalsePositiveMiner",
    "IngestError",
    "IngestReport",
    "IngestStats",
    "MatchOptions",
    "MatchResult",
    "RoundStats",
    "SqliteStore",
    "identity",
    "ingest_round",
    "match",
    "open_store",
    "phrase_of",
    "prepare",
]
