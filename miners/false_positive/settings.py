"""Settings of the false-positive miner and its store (``HARDNEG_FP_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from hardneg.miners.settings import MiningSettings, RedisSettings


class FalsePositiveSettings(MiningSettings, RedisSettings):
    """Where the confusion table lives (Redis when ``HARDNEG_REDIS_URL`` is set, else a SQLite
    file) and how predictions are matched at ingest."""

    fp_store_path: Path = Field(
        Path(".hardneg/false_positives.sqlite"),
        description="Confusion table file used when no Redis URL is set.",
    )
    fp_score_threshold: float = Field(
        0.3, ge=0, le=1, description="Predictions below this score are ignored at ingest."
    )
    fp_iou_threshold: float = Field(0.5, gt=0, le=1, description="IoU for a true-positive match.")
    fp_confusion_iou: float = Field(
        0.3,
        gt=0,
        le=1,
        description="IoU with a present instance for a false positive to count as a confusion.",
    )
