"""Settings of detector verification (``HARDNEG_VERIFY_*``, ``HARDNEG_VERIFIER*``): the outcome
thresholds shared by offline rounds and online verifiers, the rounds' store, the verifier."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from hardneg.miners.settings import RedisSettings


class VerifySettings(RedisSettings):
    """Detector-in-the-loop verification: thresholds, the rounds' store, the online verifier."""

    verify_score_threshold: float = Field(
        0.5,
        ge=0,
        le=1,
        description="A detection at or above this score means the detector fires on the phrase.",
    )
    verify_iou_threshold: float = Field(
        0.5,
        gt=0,
        le=1,
        description="IoU (mask, else box) with a positive's instance for a firing to count as fooled.",
    )
    verify_store_path: Path = Field(
        Path(".hardneg/verify.sqlite"),
        description="Verification rounds file used when no Redis URL is set (beside the"
        " false-positive table; with Redis both live under hardneg:fp: / hardneg:verify:).",
    )
    verifier: str | None = Field(
        None,
        description="Online verifier by entry-point name (`http` is built in); unset = none.",
    )
    verifier_url: str | None = Field(
        None, description="The detector server the `http` verifier posts to (docs/verifiers.md)."
    )
    verifier_timeout_s: float = Field(
        10.0, gt=0, description="Time for one verifier call, retries included, in seconds."
    )
    verifier_retries: int = Field(
        2, ge=0, description="Retries of a verifier call on 429/5xx/connection errors."
    )
