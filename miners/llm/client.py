"""HTTP side of the LLM miner: an OpenAI-compatible chat client (retries, Retry-After, backoff
and the circuit breaker come from ``hardneg.miners.resilience``).

httpx rather than the ``openai`` package: one endpoint, and we want the status codes, the
Retry-After header, the connection pool and the retry policy in our own hands (docs/llm.md).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from hardneg.miners.errors import MinerTimeout, UpstreamError
from hardneg.miners.llm.prompt import BadOutput
from hardneg.miners.resilience import LoopLocal, backoff_s, parse_retry_after

MAX_RETRIES = 2  # on 429 / 5xx / connection errors; the miner passes HARDNEG_LLM_MAX_RETRIES
BACKOFF_BASE_S = 0.25
BACKOFF_MAX_S = 8.0
RETRY_AFTER_CAP_S = 30.0  # a server asking for a longer pause fails the call instead
BREAKER_FAILURES = 5  # consecutive failed calls that open the circuit (resilience.CircuitBreaker)
BREAKER_COOLDOWN_S = 30.0  # then one probe call is let through (half-open)
# httpx's connection pool costs grow steeply with its size (95 req/s at 64 connections against
# 830 req/s for 64 one-connection clients, bench/bench_llm.py): spread requests over small pools.
SHARD_CONNECTIONS = 4


class LLMError(UpstreamError):
    """The LLM server could not give a usable answer; the message says why."""


class LLMTimeout(LLMError, MinerTimeout):
    """No answer within the request timeout (the pipeline reports status ``timeout``)."""


class LLMHTTPError(LLMError):
    """A non-retryable HTTP status (4xx other than 429)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"LLM server returned {status}: {message}")
        self.status = status
        self.body = message


@dataclass
class _Shard:
    http: httpx.AsyncClient
    busy: int = 0


@dataclass
class ChatReply:
    content: str | None
    finish_reason: str | None
    model: str


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
        self._bound = LoopLocal(self._open)

    def _open(self) -> tuple[list[_Shard], asyncio.Semaphore]:
        """Clients and semaphore for the running loop (a CLI may run several loops in turn)."""
        n = -(-self.max_concurrency // SHARD_CONNECTIONS)
        limits = httpx.Limits(
            max_connections=SHARD_CONNECTIONS, max_keepalive_connections=SHARD_CONNECTIONS
        )
        shards = [
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
        return shards, asyncio.Semaphore(self.max_concurrency)

    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        shards, sem = self._bound.get()
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
        return backoff_s(attempt, BACKOFF_BASE_S, BACKOFF_MAX_S)

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
                asked = parse_retry_after(resp.headers.get("retry-after"))
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
        shards, _ = self._bound.get()
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
        await self._bound.aclose(_close_shards)


async def _close_shards(bound: tuple[list[_Shard], asyncio.Semaphore]) -> None:
    for shard in bound[0]:
        await shard.http.aclose()


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
