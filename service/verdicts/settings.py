"""Settings of human verdicts, their feedback into mining and the annotation tools
(``HARDNEG_VERDICT_*``, ``HARDNEG_LS_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from hardneg.miners.settings import SettingsSection
from hardneg.miners.verdicts import VerdictKind


class VerdictSettings(SettingsSection):
    """Where verdicts are stored (durably) and how they feed back into mining."""

    verdict_store_path: Path = Field(
        Path(".hardneg/verdicts.sqlite"),
        description="SQLite file of verdicts (WAL, synchronous=FULL) used when no verdict Redis"
        " URL is set.",
    )
    verdict_redis_url: str | None = Field(
        None,
        description="Redis for verdicts instead of SQLite (shared by several hosts). It must run"
        " with `appendonly yes` and `appendfsync always`; writes are refused otherwise.",
    )
    verdict_redis_require_fsync: bool = Field(
        True,
        description="Refuse verdict writes when the verdict Redis does not fsync every write (set"
        " false only for a managed Redis whose CONFIG is hidden and known to fsync).",
    )
    verdict_demote_items: int = Field(
        2,
        ge=1,
        description="A negative rejected (present / not similar / implausible) for a positive by"
        " this many more distinct items than confirmed it (absent) is demoted for that positive"
        " everywhere; confirmed by this many more than rejected it, it is raised.",
    )
    verdict_refresh_s: float = Field(
        2.0,
        gt=0,
        description="How often a process re-reads which items and positives have verdicts"
        " (its own writes count at once; other processes' within this many seconds).",
    )
    verdict_drop_items: int = Field(
        4,
        ge=1,
        description="Rejected by this many more distinct items than confirmed it: dropped for"
        " that positive everywhere.",
    )


class AnnotateSettings(SettingsSection):
    """Label Studio (ML backend, push) and the review page."""

    ls_url: str | None = Field(
        None, description="Label Studio base URL for `hardneg annotate push`."
    )
    ls_token: str | None = Field(
        None,
        description="Label Studio access token (personal access token, refreshed automatically)"
        " or legacy API token, for `hardneg annotate push`.",
    )
    ls_control: str = Field(
        "negatives",
        description="Name of the Choices or Taxonomy control in the label config that receives"
        " negatives (the first Choices/Taxonomy when no control has this name).",
    )
    ls_unselected_verdict: VerdictKind = Field(
        VerdictKind.present,
        description="With a Choices control: the verdict for a proposed negative the annotator"
        " left unticked (ticked ones are `absent`).",
    )
    review_k: int = Field(12, ge=1, le=200, description="Negatives shown per item on /review.")
    review_items: Path | None = Field(
        None,
        description="JSON Lines file of items to review on /review (the batch input format;"
        " an `image` URL per line is shown, not mined); unset = /review?positive=... only.",
    )
