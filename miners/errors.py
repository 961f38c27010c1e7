"""The server side's exceptions: one root, and the few kinds the service maps to HTTP statuses.

Miners, the pipeline and the stores raise subclasses of :class:`ServerError`; the mapping to HTTP
status codes lives in one place, ``hardneg.service.errors``. A miner's failure never reaches a
caller as an HTTP error: the pipeline turns it into the miner's status (``error``, ``timeout``,
``disabled``) and the other miners still answer.

The light client has its own, separate hierarchy (``hardneg.clients.HardnegError``).
"""

from __future__ import annotations

__all__ = [
    "CircuitOpen",
    "Conflict",
    "DependencyDown",
    "InvalidInput",
    "MinerError",
    "MinerTimeout",
    "MinerUnavailable",
    "NotFound",
    "Overloaded",
    "ServerError",
    "UpstreamError",
]


class ServerError(Exception):
    """Root of every exception raised on purpose by hardneg's server side."""


class InvalidInput(ServerError, ValueError):
    """The caller's input cannot be used; the message says what is wrong (HTTP 422)."""


class NotFound(InvalidInput):
    """The named thing (a round, a record) does not exist (HTTP 404)."""


class Conflict(InvalidInput):
    """The input clashes with what is stored (a round name reused for other data; HTTP 409)."""


class Overloaded(ServerError):
    """Too much work in flight; try again after ``retry_after_s`` seconds (HTTP 429)."""

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class DependencyDown(ServerError):
    """A store the request needs (Redis, SQLite) cannot be used right now (HTTP 503)."""


class MinerError(ServerError):
    """A miner could not answer; the pipeline reports status ``error`` for it."""


class MinerUnavailable(MinerError):
    """A miner cannot run here (no URL set, no data); raised by its factory: status ``disabled``."""


class MinerTimeout(MinerError, TimeoutError):
    """A miner (or the server behind it) did not answer in time: status ``timeout``."""


class UpstreamError(MinerError):
    """A server a miner calls (SPARQL endpoint, LLM server) failed or refused."""


class CircuitOpen(UpstreamError):
    """Calls to a failing server are refused for a while (see ``resilience.CircuitBreaker``)."""
