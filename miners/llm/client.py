"""HTTP side of the LLM miner: an OpenAI-compatible chat client and a circuit breaker.

httpx rather than the ``openai`` package: one endpoint, and we want the status codes, the
Retry-After header, the connection pool and the retry policy in our own hands (docs/llm.md).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from hardneg.miners.llm.prompt import BadOutput

MAX_RETRIES = 2  # on 429 / 5xx / connection errors; the miner passes HARDNEG_LLM_MAX_RETRIES
BACKOFF_BASE_S = 0.25
BACKOFF_MAX_S = 8.0
RETRY_AFTER_CAP_S = 30.0  # a server asking for a longer pause fails the call instead
BREAKER_FAILURES = 5  # consecutive failed calls that open the circuit
BREAKER_COOLDOWN_S = 30.0  # then one probe call is let through (half-open)
# httpx's connection pool costs grow steeply with its size (95 req/s at 64 connections against
# 830 req/s for 64 one-connection clients, bench/bench_llm.py): spread requests over small pools.
SHARD_CONNECTIONS = 4


class LLMError(RuntimeError):
    """The LLM server could not give a usable answer; the message says why."""


class LLMTimeout(LLMError, TimeoutError):
    """No answer within the request timeout (the pipeline reports status ``timeout``)."""


class LLMHTTPError(LLMError):
    """A non-retryable HTTP status (4xx other than 429)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"LLM server returned {status}: {message}")
        self.status = status
        self.body = message


class CircuitOpen(LLMError):
    """Calls are refused for a while after repeated failures, sparing a struggling server."""


class CircuitBreaker:
    """Closed -> open after N consecutive failures -> half-open (one probe) after a cool-down."""

    def __init__(
        self,
        failures: int = BREAKER_FAILURES,
        cooldown_s: float = BREAKER_COOLDOWN_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = failures
        self.cooldown_s = cooldown_s
        self.clock = clock
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
        """Raise CircuitOpen unless a call may go out now."""
        if self.opened_at is None:
            return
        left = self.cooldown_s - (self.clock() - self.opened_at)
        if left > 0 or self.probing:
            wait = f"next try in {max(left, 0):.0f}s" if left > 0 else "a probe call is in flight"
            raise CircuitOpen(
                f"LLM circuit open after {self.consecutive} consecutive failures"
                f" (last: {self.last_error}); {wait}"
            )
        self.probing = True

    def success(self) -> None:
        self.consecutive, self.opened_at, self.probing = 0, None, False

    def failure(self, error: str) -> None:
        self.consecutive += 1
        self.last_error = error
        if self.probing or self.consecutive >= self.threshold:
            self.opened_at = self.clock()
        self.probing = False

    def release(self) -> None:
        """A call was cancelled before it finished: neither success nor failure."""
        self.probing = False


@dataclass
class _Shard:
    http: httpx.AsyncClient
    busy: int = 0


@dataclass
class ChatReply:
    content: str | None
    finish_reason: str | None
    model: str


def retry_after_s(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _error_text(resp: httpx.Response) -> str:
    """The server's error message ({"error": {"message"}} or {"detail"}), else the raw body."""
    try:
        data = resp.json()
    except ValueError:
        return resp.text[:300] or resp.reason_phrase
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:300]
        if "detail" in data:
            return json.dumps(data["detail"])[:300]
    return json.dumps(data)[:300]


class ChatClient:
    """POST /chat/completions with a concurrency limit, a total timeout and retries on 429/5xx."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        timeout_s: float,
        max_concurrency: int,
        retries: int = MAX_RETRIES,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.max_concurrency = max_concurrency
        self.retries = retries
        self.sleep = sleep
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._shards: list[_Shard] = []
        self._sem: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _bound(self) -> tuple[list[_Shard], asyncio.Semaphore]:
        """Clients and semaphore for the running loop (a CLI may run several loops in turn)."""
        loop = asyncio.get_running_loop()
        if not self._shards or self._sem is None or self._loop is not loop:
            n = -(-self.max_concurrency // SHARD_CONNECTIONS)
            limits = httpx.Limits(
                max_connections=SHARD_CONNECTIONS, max_keepalive_connections=SHARD_CONNECTIONS
            )
            self._shards = [
                _Shard(
                    httpx.AsyncClient(
                        base_url=self.base_url,
                        headers=self.headers,
                        timeout=self.timeout_s,
                        limits=limits,
                    )
                )
                for _ in range(n)
            ]
            self._sem = asyncio.Semaphore(self.max_concurrency)
            self._loop = loop
        return self._shards, self._sem

    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        shards, sem = self._bound()
        async with sem:  # waiting for a slot does not count against the request timeout
            shard = min(shards, key=lambda s: s.busy)  # always has a free connection
            shard.busy += 1
            try:
                async with asyncio.timeout(self.timeout_s):
                    return await shard.http.post("/chat/completions", json=body)
            except (TimeoutError, httpx.TimeoutException):
                raise LLMTimeout(f"LLM server did not answer within {self.timeout_s:g}s") from None
            finally:
                shard.busy -= 1

    def _backoff(self, attempt: int) -> float:
        return random.uniform(0.5, 1.0) * min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**attempt)

    async def chat(self, body: dict[str, Any]) -> ChatReply:
        """One completion; retries 429/5xx/connection errors with backoff honouring Retry-After."""
        error = ""
        for attempt in range(self.retries + 1):
            try:
                resp = await self._post(body)
            except httpx.TransportError as exc:
                error = f"cannot reach LLM server at {self.base_url}: {type(exc).__name__}"
                delay = self._backoff(attempt)
            else:
                if resp.status_code == 200:
                    return _chat_reply(resp)
                if resp.status_code != 429 and resp.status_code < 500:
                    raise LLMHTTPError(resp.status_code, _error_text(resp))
                error = f"LLM server returned {resp.status_code} ({_error_text(resp)})"
                asked = retry_after_s(resp.headers.get("retry-after"))
                delay = self._backoff(attempt) if asked is None else asked
                if delay > RETRY_AFTER_CAP_S:
                    raise LLMError(
                        f"{error}; Retry-After {delay:.0f}s is over the {RETRY_AFTER_CAP_S:g}s cap"
                    )
            if attempt < self.retries:
                await self.sleep(delay)
        raise LLMError(f"{error} after {self.retries} retries")

    async def models(self) -> list[str]:
        """Model ids the server lists at GET /models (a quick reachability check, no retries)."""
        shards, _ = self._bound()
        try:
            async with asyncio.timeout(min(5.0, self.timeout_s)):
                resp = await shards[0].http.get("/models")
        except (TimeoutError, httpx.HTTPError) as exc:
            raise LLMError(f"cannot reach LLM server at {self.base_url}: {exc!r}") from None
        if resp.status_code != 200:
            raise LLMHTTPError(resp.status_code, _error_text(resp))
        try:
            return [str(m["id"]) for m in resp.json()["data"]]
        except (ValueError, KeyError, TypeError):
            raise LLMError(f"GET {self.base_url}/models: not a model list") from None

    async def aclose(self) -> None:
        if self._loop is asyncio.get_running_loop():
            for shard in self._shards:
                await shard.http.aclose()
        self._shards = []


def _chat_reply(resp: httpx.Response) -> ChatReply:
    """Pick content and finish_reason out of a chat.completion body."""
    try:
        data = resp.json()
        choice = data["choices"][0]
        return ChatReply(
            content=choice["message"].get("content"),
            finish_reason=choice.get("finish_reason"),
            model=str(data.get("model", "")),
        )
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise BadOutput(f"not a chat.completion body: {resp.text[:200]!r}") from None


def normalise_base_url(url: str) -> str:
    """``http://host:8000`` and ``http://host:8000/v1/`` both mean the OpenAI API root /v1."""
    url = url.rstrip("/")
    path = httpx.URL(url).path
    return f"{url}/v1" if path in ("", "/") else url
