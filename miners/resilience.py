"""Resilience for every outbound call: Retry-After, backoff, a circuit breaker, per-loop clients.

One home for these, used by the LLM client, the SPARQL client and the HTTP client
(``hardneg.clients``): the same Retry-After parsing (delta-seconds or an HTTP date), the same
jittered exponential backoff, one circuit breaker, and one way to keep an httpx client bound to
the event loop it was made in. Standard library only, so the light client can import it.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from hardneg.miners.errors import CircuitOpen

__all__ = ["CircuitBreaker", "LoopLocal", "backoff_s", "parse_retry_after"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def parse_retry_after(value: str | None, now_epoch: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date (RFC 9110).

    None when absent or unreadable; a date in the past means no wait (0.0).
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    now = time.time() if now_epoch is None else now_epoch
    return max(0.0, when.timestamp() - now)


def backoff_s(attempt: int, base_s: float, max_s: float) -> float:
    """Delay before retry number ``attempt`` (0 = the first retry): exponential, capped, with
    "equal jitter" (a random point in the upper half) so callers that failed together spread out."""
    full = min(max_s, base_s * 2 ** max(0, attempt))
    return full / 2 + random.random() * full / 2


class CircuitBreaker:
    """Closed -> open after ``failures`` consecutive failures -> half-open after ``cooldown_s``,
    when one probe call goes through: its success closes the circuit, its failure re-opens it.

    Callers wrap each call: ``before_call()`` (raises ``error`` while open), then ``success()``,
    ``failure(why)`` or, for a call cancelled half-way, ``release()``.
    """

    def __init__(
        self,
        failures: int = 5,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        name: str = "",
        error: type[CircuitOpen] = CircuitOpen,
    ) -> None:
        self.threshold = failures
        self.cooldown_s = cooldown_s
        self.clock = clock
        self.name = name
        self.error = error
        self.consecutive = 0
        self.opened_at: float | None = None
        self.probing = False
        self.last_error = ""

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "open" if self.clock() - self.opened_at < self.cooldown_s else "half-open"

    def before_call(self) -> None:
        """Raise ``self.error`` unless a call may go out now (half-open lets one probe through)."""
        if self.opened_at is None:
            return
        left = self.cooldown_s - (self.clock() - self.opened_at)
        if left > 0 or self.probing:
            wait = f"next try in {max(left, 0):.0f}s" if left > 0 else "a probe call is in flight"
            last = f" (last: {self.last_error})" if self.last_error else ""
            who = f"{self.name} circuit" if self.name else "circuit"
            raise self.error(
                f"{who} open after {self.consecutive} consecutive failures{last}; {wait}"
            )
        self.probing = True

    def success(self) -> None:
        if self.opened_at is not None:
            log.info("%s circuit closed again", self.name or "a")
        self.consecutive, self.opened_at, self.probing = 0, None, False

    def failure(self, error: str = "") -> None:
        self.consecutive += 1
        self.last_error = error or self.last_error
        if self.probing or self.consecutive >= self.threshold:
            if self.opened_at is None or self.probing:
                log.warning("%s circuit opened for %.0fs", self.name or "a", self.cooldown_s)
            self.opened_at = self.clock()
        self.probing = False

    def release(self) -> None:
        """A call was cancelled before it finished: neither a success nor a failure."""
        self.probing = False


class LoopLocal(Generic[T]):
    """A resource bound to the event loop it was made in (an httpx client, a semaphore), made
    again when called from another loop: a CLI may run several ``asyncio.run`` loops in turn."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._value: T | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> T:
        loop = asyncio.get_running_loop()
        if self._value is None or self._loop is not loop:
            self._value, self._loop = self._make(), loop
        return self._value

    async def aclose(self, close: Callable[[T], Awaitable[object]]) -> None:
        """Close the resource with ``close`` if it belongs to the running loop (a resource of a
        loop that is gone cannot be closed any more: it is dropped)."""
        value, loop = self._value, self._loop
        self._value = self._loop = None
        if value is not None and loop is asyncio.get_running_loop():
            await close(value)
