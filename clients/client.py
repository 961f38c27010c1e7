"""HTTP client for a running hardneg service, sync and async, on httpx.

Light on purpose (httpx + pydantic): training data loaders import it. Errors form a small
hierarchy; 429 and 503 are retried a bounded number of times, honouring Retry-After.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import Any

import httpx
from pydantic import BaseModel

from hardneg.clients import endpoints as ep
from hardneg.miners.resilience import backoff_s, parse_retry_after
from hardneg.miners.types import ItemResult, NegativesRequest, NegativesResponse, RequestItem

RETRY_STATUSES = {429, 503}
BATCH_SIZE = 256  # items per request when batching many (the service takes up to 1,000)
MAX_CONNECTIONS = 16  # pooled keep-alive connections per client
BACKOFF_BASE_S = 0.2
BACKOFF_MAX_S = 10.0


class HardnegError(Exception):
    """Base of every error this client raises."""


class TransportError(HardnegError):
    """The service could not be reached or did not answer in time."""


class APIError(HardnegError):
    """The service answered with an error body ``{"error": {message, type, code}}``."""

    def __init__(
        self, status: int, message: str, type: str = "error", retry_after: float | None = None
    ) -> None:
        super().__init__(f"{status} {type}: {message}")
        self.status, self.message, self.type, self.retry_after = status, message, type, retry_after


class InvalidRequest(APIError):
    """400/401/403/404/413/422: the request itself (or its key) is wrong; retrying will not help."""


class Overloaded(APIError):
    """429: too many requests in flight; retry after ``retry_after`` seconds."""


class ServiceUnavailable(APIError):
    """5xx: the service or one of its dependencies is down."""


def _error_from(resp: httpx.Response) -> APIError:
    try:
        err = resp.json()["error"]
        message, kind = str(err["message"]), str(err.get("type", "error"))
    except (ValueError, KeyError, TypeError):
        message, kind = resp.text[:500] or resp.reason_phrase, "error"
    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
    cls = (
        Overloaded
        if resp.status_code == 429
        else ServiceUnavailable
        if resp.status_code >= 500
        else InvalidRequest
    )
    return cls(resp.status_code, message, kind, retry_after)


def build_request(
    items: Sequence[RequestItem | dict[str, Any]] | NegativesRequest, **options: Any
) -> NegativesRequest:
    """A request from items (models or dicts) and options (k, miners, min/max_similarity)."""
    if isinstance(items, NegativesRequest):
        return items
    return NegativesRequest.model_validate({"items": list(items), **options})


def _concept_params(request: NegativesRequest) -> list[tuple[str, str]]:
    """Query parameters of ``GET /v1/negatives`` for a one-concept request."""
    item = request.items[0]
    params = [("concept", item.positives[0]), *(("present", p) for p in item.present)]
    params += [("exclude", e) for e in item.exclude]
    params += [("miners", m) for m in request.miners or ()]
    if item.id:
        params.append(("id", item.id))
    options = request.options().model_dump(exclude_none=True, exclude={"miners"})
    params += [(name, str(value)) for name, value in options.items()]
    return params


def _outcome(resp: httpx.Response, attempt: int, retries: int) -> float | None:
    """None when ``resp`` is the answer; else the delay before retrying it (429/503 only,
    honouring Retry-After), or raise its error when it is not retried or retries are spent."""
    if resp.is_success:
        return None
    err = _error_from(resp)
    if resp.status_code not in RETRY_STATUSES or attempt >= retries:
        raise err
    if err.retry_after is not None:
        return min(err.retry_after, BACKOFF_MAX_S)
    return backoff_s(attempt, BACKOFF_BASE_S, BACKOFF_MAX_S)


def _auth_headers(api_key: str | None) -> dict[str, str]:
    """``Authorization: Bearer <key>`` for a service with API keys (none: no header)."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def _batches(
    items: Iterable[RequestItem | dict[str, Any]], size: int
) -> Iterator[list[RequestItem | dict[str, Any]]]:
    if size < 1:
        raise ValueError("batch_size must be at least 1")
    it = iter(items)
    while batch := list(itertools.islice(it, size)):
        yield batch


def _limits(max_connections: int) -> httpx.Limits:
    return httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)


def _lines(resp: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line) for line in resp.text.splitlines() if line.strip()]


def _transport_error(method: str, path: str, exc: httpx.HTTPError) -> TransportError:
    return TransportError(f"{method} {path}: {exc}")


class Client:
    """Synchronous client. ``with Client(url) as c: c.negatives([...])``. Connections are pooled
    (``max_connections``); ``timeout`` bounds each request; 429/503 are retried ``retries``
    times, honouring Retry-After; other 4xx are raised at once."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        timeout: float = 60.0,
        retries: int = 2,
        http: httpx.Client | None = None,
        api_key: str | None = None,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.retries = retries
        self._http = http or httpx.Client(
            base_url=base_url,
            timeout=timeout,
            headers=_auth_headers(api_key),
            limits=_limits(max_connections),
        )

    def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        attempt = 0
        while True:
            try:
                resp = self._http.request(method, path, **kw)
            except httpx.HTTPError as exc:
                raise _transport_error(method, path, exc) from exc
            delay = _outcome(resp, attempt, self.retries)
            if delay is None:
                return resp
            time.sleep(delay)
            attempt += 1

    def negatives(
        self, items: Sequence[RequestItem | dict[str, Any]] | NegativesRequest, **options: Any
    ) -> NegativesResponse:
        body = build_request(items, **options).model_dump(mode="json", exclude_none=True)
        return NegativesResponse.model_validate_json(
            self._send("POST", "/v1/negatives", json=body).content
        )

    def negatives_batched(
        self,
        items: Iterable[RequestItem | dict[str, Any]],
        batch_size: int = BATCH_SIZE,
        **options: Any,
    ) -> Iterator[ItemResult]:
        """Answers for any number of items, in order, ``batch_size`` items per request."""
        for batch in _batches(items, batch_size):
            yield from self.negatives(batch, **options).items

    def negatives_for(
        self,
        concept: str,
        present: Sequence[str] = (),
        exclude: Sequence[str] = (),
        k: int | None = None,
        miners: Sequence[str] | None = None,
    ) -> ItemResult:
        request = NegativesRequest.for_concept(
            concept, present=present, exclude=exclude, k=k, miners=miners
        )
        resp = self._send("GET", "/v1/negatives", params=_concept_params(request))
        return NegativesResponse.model_validate_json(resp.content).items[0]

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """Any endpoint (e.g. uploads), with this client's retries and error mapping."""
        return self._send(method, path, **kw)

    def _json(self, call: ep.Call) -> Any:
        method, path, kw = call
        return self._send(method, path, **kw).json()

    def post_verdicts(self, verdicts: Sequence[BaseModel | dict[str, Any]]) -> dict[str, Any]:
        return self._json(ep.post_verdicts(verdicts))

    def verdicts(
        self, item_id: str | None = None, positive: str | None = None, limit: int = 1000
    ) -> dict[str, Any]:
        return self._json(ep.verdicts(item_id, positive, limit))

    def delete_verdict(self, verdict_id: str) -> dict[str, Any]:
        return self._json(ep.delete_verdict(verdict_id))

    def export_verdicts(self, since: int = 0) -> list[dict[str, Any]]:
        method, path, kw = ep.export_verdicts(since)
        return _lines(self._send(method, path, **kw))

    def stats(self) -> dict[str, Any]:
        return self._json(ep.stats())

    def false_positive_rounds(self) -> dict[str, Any]:
        return self._json(ep.false_positive_rounds())

    def verify_rounds(self) -> dict[str, Any]:
        return self._json(ep.verify_rounds())

    def verify_round(self, name: str) -> dict[str, Any]:
        return self._json(ep.verify_round(name))

    def verify_held(self, limit: int = 100) -> dict[str, Any]:
        return self._json(ep.verify_held(limit))

    def ready(self) -> dict[str, Any]:
        resp = self._http.get("/readyz")
        data: dict[str, Any] = resp.json()
        return data

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient:
    """Asynchronous client with the same methods and options as :class:`Client`."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        timeout: float = 60.0,
        retries: int = 2,
        http: httpx.AsyncClient | None = None,
        api_key: str | None = None,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.retries = retries
        self._http = http or httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout,
            headers=_auth_headers(api_key),
            limits=_limits(max_connections),
        )

    async def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        attempt = 0
        while True:
            try:
                resp = await self._http.request(method, path, **kw)
            except httpx.HTTPError as exc:
                raise _transport_error(method, path, exc) from exc
            delay = _outcome(resp, attempt, self.retries)
            if delay is None:
                return resp
            await asyncio.sleep(delay)
            attempt += 1

    async def negatives(
        self, items: Sequence[RequestItem | dict[str, Any]] | NegativesRequest, **options: Any
    ) -> NegativesResponse:
        body = build_request(items, **options).model_dump(mode="json", exclude_none=True)
        resp = await self._send("POST", "/v1/negatives", json=body)
        return NegativesResponse.model_validate_json(resp.content)

    async def negatives_batched(
        self,
        items: Iterable[RequestItem | dict[str, Any]],
        batch_size: int = BATCH_SIZE,
        concurrency: int = 4,
        **options: Any,
    ) -> AsyncIterator[ItemResult]:
        """Answers for any number of items, in order, ``batch_size`` items per request with up
        to ``concurrency`` requests in flight (the next batches are asked while one is read)."""
        pending: list[asyncio.Task[NegativesResponse]] = []
        try:
            for batch in _batches(items, batch_size):
                pending.append(asyncio.create_task(self.negatives(batch, **options)))
                if len(pending) >= max(1, concurrency):
                    for result in (await pending.pop(0)).items:
                        yield result
            while pending:
                for result in (await pending.pop(0)).items:
                    yield result
        finally:
            for task in pending:
                task.cancel()

    async def negatives_for(
        self,
        concept: str,
        present: Sequence[str] = (),
        exclude: Sequence[str] = (),
        k: int | None = None,
        miners: Sequence[str] | None = None,
    ) -> ItemResult:
        request = NegativesRequest.for_concept(
            concept, present=present, exclude=exclude, k=k, miners=miners
        )
        resp = await self._send("GET", "/v1/negatives", params=_concept_params(request))
        return NegativesResponse.model_validate_json(resp.content).items[0]

    async def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """Any endpoint (e.g. uploads), with this client's retries and error mapping."""
        return await self._send(method, path, **kw)

    async def _json(self, call: ep.Call) -> Any:
        method, path, kw = call
        return (await self._send(method, path, **kw)).json()

    async def post_verdicts(self, verdicts: Sequence[BaseModel | dict[str, Any]]) -> dict[str, Any]:
        return await self._json(ep.post_verdicts(verdicts))

    async def verdicts(
        self, item_id: str | None = None, positive: str | None = None, limit: int = 1000
    ) -> dict[str, Any]:
        return await self._json(ep.verdicts(item_id, positive, limit))

    async def delete_verdict(self, verdict_id: str) -> dict[str, Any]:
        return await self._json(ep.delete_verdict(verdict_id))

    async def export_verdicts(self, since: int = 0) -> list[dict[str, Any]]:
        method, path, kw = ep.export_verdicts(since)
        return _lines(await self._send(method, path, **kw))

    async def stats(self) -> dict[str, Any]:
        return await self._json(ep.stats())

    async def false_positive_rounds(self) -> dict[str, Any]:
        return await self._json(ep.false_positive_rounds())

    async def verify_rounds(self) -> dict[str, Any]:
        return await self._json(ep.verify_rounds())

    async def verify_round(self, name: str) -> dict[str, Any]:
        return await self._json(ep.verify_round(name))

    async def verify_held(self, limit: int = 100) -> dict[str, Any]:
        return await self._json(ep.verify_held(limit))

    async def ready(self) -> dict[str, Any]:
        data: dict[str, Any] = (await self._http.get("/readyz")).json()
        return data

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
