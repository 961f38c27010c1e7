"""A SPARQL 1.1 protocol client that follows the Wikidata query service's etiquette.

The public service asks for a descriptive User-Agent with contact details, a bounded query rate,
and that clients honour ``429 Too Many Requests`` + ``Retry-After`` (it bans those that do not).
So: a configurable User-Agent, at most N requests in flight per endpoint, Retry-After honoured by
every caller of the endpoint, a timeout per request and a deadline per call, retries with
exponential backoff on 5xx and connection errors, and a circuit breaker that stops calling an
endpoint that keeps failing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from hardneg.miners.errors import CircuitOpen, MinerTimeout, UpstreamError
from hardneg.miners.resilience import CircuitBreaker, LoopLocal, backoff_s, parse_retry_after

__all__ = [
    "Bindings",
    "Endpoint",
    "Etiquette",
    "HttpEndpoint",
    "SparqlBadQuery",
    "SparqlError",
    "SparqlRateLimited",
    "SparqlTimeout",
    "SparqlUnavailable",
    "parse_bindings",
    "parse_retry_after",
]

log = logging.getLogger(__name__)

Bindings = list[dict[str, str]]
SPARQL_JSON = "application/sparql-results+json"
CONSTRUCT_ACCEPT = "application/n-triples, text/turtle;q=0.9"


class SparqlError(UpstreamError):
    """A SPARQL endpoint did not answer usefully (base class of the errors below)."""


class SparqlTimeout(SparqlError, MinerTimeout):
    """No answer within the request timeout or the caller's deadline."""


class SparqlRateLimited(SparqlError):
    """The endpoint asked us to wait (429 + Retry-After) longer than the time we have."""


class SparqlUnavailable(SparqlError, CircuitOpen):
    """The circuit breaker is open: the endpoint failed repeatedly and is left alone for a while."""


class SparqlBadQuery(SparqlError):
    """The endpoint rejected the query (4xx other than 429): a bug, not worth retrying."""


class Endpoint(Protocol):
    """What the miner needs from a SPARQL endpoint; ``id`` goes into cache keys."""

    id: str

    async def select(self, query: str, *, deadline: float | None = None) -> Bindings: ...

    async def aclose(self) -> None: ...


@dataclass
class Etiquette:
    """How politely to call an endpoint; defaults suit the public Wikidata query service."""

    user_agent: str
    max_inflight: int = 1
    timeout_s: float = 8.0
    max_retries: int = 3
    backoff_s: float = 0.5
    backoff_max_s: float = 8.0
    breaker_failures: int = 5
    breaker_reset_s: float = 30.0


def parse_bindings(body: bytes) -> Bindings:
    """SPARQL 1.1 JSON results -> one ``{var: value}`` dict per solution (unbound vars left out)."""
    try:
        doc = json.loads(body)
        rows = doc["results"]["bindings"]
        return [{k: str(v["value"]) for k, v in row.items()} for row in rows]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        snippet = body[:120].decode("utf-8", "replace")
        raise SparqlError(f"malformed SPARQL JSON results ({exc!r}): {snippet!r}") from exc


class _Retry(Exception):
    """Internal: this attempt failed in a way worth retrying after ``delay`` seconds."""

    def __init__(self, why: str, delay: float | None = None) -> None:
        super().__init__(why)
        self.delay = delay


class HttpEndpoint:
    """A remote SPARQL endpoint (Wikidata, QLever, an Oxigraph server) behind the etiquette."""

    def __init__(
        self,
        url: str,
        etiquette: Etiquette,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"SPARQL endpoint must be an http(s) URL, got {url!r}")
        self.url, self.etiquette = url, etiquette
        self.id = f"{parts.netloc}{parts.path}"
        self.clock, self.sleep = clock, sleep
        self.breaker = CircuitBreaker(
            etiquette.breaker_failures,
            etiquette.breaker_reset_s,
            clock,
            name=f"SPARQL {self.id}",
            error=SparqlUnavailable,
        )
        self.not_before = 0.0  # shared by all callers: set by Retry-After
        self._bound = LoopLocal(self._open)

    def _open(self) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        """Client and semaphore for the running loop (both are bound to the loop they start in)."""
        headers = {"User-Agent": self.etiquette.user_agent}
        client = httpx.AsyncClient(headers=headers, follow_redirects=True)
        return client, asyncio.Semaphore(self.etiquette.max_inflight)

    async def select(self, query: str, *, deadline: float | None = None) -> Bindings:
        """Run a SELECT/ASK query; raises a :class:`SparqlError` subclass on failure."""
        resp = await self.request(query, SPARQL_JSON, deadline)
        try:
            return parse_bindings(resp.content)
        except SparqlError:
            self.breaker.failure("malformed results")
            raise

    async def construct(self, query: str, *, deadline: float | None = None) -> tuple[bytes, str]:
        """Run a CONSTRUCT query; the RDF body (N-Triples preferred) and its content type."""
        resp = await self.request(query, CONSTRUCT_ACCEPT, deadline)
        return resp.content, resp.headers.get("content-type", "")

    async def request(
        self, query: str, accept: str, deadline: float | None = None
    ) -> httpx.Response:
        """POST the query (SPARQL protocol, form-encoded) with retries; the 200 response."""
        et = self.etiquette
        if deadline is None:
            deadline = self.clock() + et.timeout_s * (et.max_retries + 1)
        attempt = 0
        while True:
            self.breaker.before_call()
            try:
                return await self._attempt(query, accept, deadline)
            except _Retry as retry:
                attempt += 1
                if attempt > et.max_retries:
                    raise SparqlError(
                        f"{self.id}: gave up after {attempt} attempts: {retry}"
                    ) from None
                delay = retry.delay if retry.delay is not None else self._backoff(attempt - 1)
                if self.clock() + delay >= deadline:
                    raise SparqlTimeout(f"{self.id}: {retry}; no time left to retry") from None
                await self.sleep(delay)

    def _backoff(self, retry: int) -> float:
        return backoff_s(retry, self.etiquette.backoff_s, self.etiquette.backoff_max_s)

    async def _wait_turn(self, deadline: float) -> None:
        """Sleep until a Retry-After set by any caller has passed, or fail if it outlasts us."""
        while (wait := self.not_before - self.clock()) > 0:
            if self.clock() + wait > deadline:
                raise SparqlRateLimited(
                    f"{self.id}: asked to retry after {wait:.1f}s, beyond this call's deadline"
                )
            await self.sleep(wait)

    async def _attempt(self, query: str, accept: str, deadline: float) -> httpx.Response:
        client, sem = self._bound.get()
        await self._wait_turn(deadline)
        async with sem:
            await self._wait_turn(deadline)  # a 429 may have arrived while we queued
            left = deadline - self.clock()
            if left <= 0:
                raise SparqlTimeout(f"{self.id}: deadline passed while waiting for a slot")
            try:
                resp = await client.post(
                    self.url,
                    data={"query": query},
                    headers={"Accept": accept},
                    timeout=min(self.etiquette.timeout_s, left),
                )
            except httpx.TimeoutException as exc:
                self.breaker.failure("timeout")
                raise SparqlTimeout(
                    f"{self.id}: no answer in {min(self.etiquette.timeout_s, left):.1f}s"
                ) from exc
            except httpx.TransportError as exc:
                self.breaker.failure(f"connection failed: {type(exc).__name__}")
                raise _Retry(f"connection failed: {exc!r}") from exc
        return self._check(resp)

    def _check(self, resp: httpx.Response) -> httpx.Response:
        code = resp.status_code
        if code == 200:
            self.breaker.success()
            return resp
        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        if code == 429:
            wait = retry_after if retry_after is not None else self._backoff(0)
            self.not_before = max(self.not_before, self.clock() + wait)
            log.info("%s: 429, waiting %.1fs as asked", self.id, wait)
            raise _Retry(f"429 Too Many Requests (Retry-After {wait:.1f}s)", delay=0.0)
        if code >= 500:
            self.breaker.failure(f"HTTP {code}")
            if retry_after is not None:
                self.not_before = max(self.not_before, self.clock() + retry_after)
            raise _Retry(f"HTTP {code}: {_snippet(resp)}", delay=0.0 if retry_after else None)
        raise SparqlBadQuery(f"{self.id}: HTTP {code}: {_snippet(resp)}")

    async def aclose(self) -> None:
        await self._bound.aclose(lambda bound: bound[0].aclose())

    def describe(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "breaker": self.breaker.state,
            "inflight": self.etiquette.max_inflight,
        }


def _snippet(resp: httpx.Response) -> str:
    return resp.text[:200].replace("\n", " ")
