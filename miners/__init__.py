"""Domain types, the miner contract and the miners of hardneg.

- ``types``: the wire types (pydantic only; the light client imports them from here).
- ``base``: the Miner contract, its context, traits and registry (docs/miners.md);
  ``errors``: the server side's exception root; ``settings``: the settings sections' base.
- ``resilience``: Retry-After, backoff, circuit breaker, per-loop clients for outbound calls;
  ``cache``: the one cache helper for miners' own results.
- ``knowledge/``: vocabulary, WordNet, attribute lexicon, normalisation, the exclusion guard.
- one package per miner: ``vocabulary/``, ``ontology/``, ``llm/``, ``false_positive/``, each with
  its miner, its client and its settings section.
- ``build/``: offline tooling that regenerates the shipped data files.

Importing this package stays light (pydantic only): miner implementations load on first use.
"""

from __future__ import annotations

from hardneg.miners.types import (
    Candidate,
    ErrorResponse,
    ItemResult,
    Kind,
    MineOptions,
    MinerStatus,
    Negative,
    NegativesRequest,
    NegativesResponse,
    RequestItem,
)

__all__ = [
    "Candidate",
    "ErrorResponse",
    "ItemResult",
    "Kind",
    "MineOptions",
    "MinerStatus",
    "Negative",
    "NegativesRequest",
    "NegativesResponse",
    "RequestItem",
]
