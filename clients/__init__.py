"""hardneg clients: the HTTP client (sync + async), its errors, and the wire types.

Importing this package needs only httpx and pydantic, never FastAPI, torch or faiss.
"""

from __future__ import annotations

from hardneg.clients.client import (
    APIError,
    AsyncClient,
    Client,
    HardnegError,
    InvalidRequest,
    Overloaded,
    ServiceUnavailable,
    TransportError,
)
from hardneg.miners.types import (
    ItemResult,
    Kind,
    MinerStatus,
    Negative,
    NegativesRequest,
    NegativesResponse,
    RequestItem,
)

__all__ = [
    "APIError",
    "AsyncClient",
    "Client",
    "HardnegError",
    "InvalidRequest",
    "ItemResult",
    "Kind",
    "MinerStatus",
    "Negative",
    "NegativesRequest",
    "NegativesResponse",
    "Overloaded",
    "RequestItem",
    "ServiceUnavailable",
    "TransportError",
]
