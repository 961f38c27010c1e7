"""Settings of the ontology miner (``HARDNEG_SPARQL_*``, ``HARDNEG_ONTOLOGY_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from hardneg.miners.settings import MiningSettings


class OntologySettings(MiningSettings):
    """Where the class graph is queried, and how politely."""

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
