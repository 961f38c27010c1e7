"""Settings of the LLM miner (``HARDNEG_LLM_*``)."""

from __future__ import annotations

from pydantic import Field

from hardneg.miners.settings import MiningSettings


class LLMSettings(MiningSettings):
    """The OpenAI-compatible server (vLLM) and how the miner calls it."""

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
