"""Typed settings sections: each miner declares its own next to its code, the service composes
them into one ``Settings`` class (``hardneg.service.settings``) so ``docs/settings.md`` stays one
generated reference. Every variable has the prefix ``HARDNEG_``.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["MiningSettings", "RedisSettings", "SettingsSection"]


class SettingsSection(BaseSettings):
    """Base of every section: ``HARDNEG_*`` environment variables or a ``.env`` file."""

    model_config = SettingsConfigDict(env_prefix="HARDNEG_", env_file=".env", extra="ignore")


class MiningSettings(SettingsSection):
    """What every miner may read: how long it has and how many candidates it is asked for."""

    miner_timeout_s: float = Field(
        10.0, gt=0, description="Default per-miner timeout for one positive, in seconds."
    )
    candidates_per_miner: int = Field(
        120, ge=1, description="How many candidates each miner is asked for per positive."
    )


class RedisSettings(SettingsSection):
    """The Redis server shared by the answer cache and the false-positive table."""

    redis_url: str | None = Field(
        None,
        description="Redis URL for the cache and the false-positive table; unset = an in-process"
        " LRU cache and a SQLite table file (embedded default).",
    )
