"""Domain types and miners of hardneg.

Importing this package stays light (pydantic only): clients in training jobs import the wire
types from here. Miner implementations live in their own modules and load lazily.
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
