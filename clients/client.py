"""HTTP client for a running hardneg service, sync and async, on httpx.

Light on purpose (httpx + pydantic): training data loaders import it. Errors form a small
hierarchy; 429 and 503 are retried a bounded number of times, honouring Retry-After.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import httpx

from hardneg.miners.types import ItemResult, NegativesRequest, NegativesResponse, RequestItem

RETRY_STATUSES = {429, 503}


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
    """400/404/422: the request itself is wrong; retrying will not help."""


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
    retry = resp.headers.get("Retry-After")
    retry_after = float(retry) if retry and retry.replace(".", "", 1).isdigit() else None
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


def _concept_params(
    concept: str,
    present: Sequence[str],
    exclude: Sequence[str],
    k: int | None,
    miners: Sequence[str] | None,
) -> list[tuple[str, str]]:
    params = [("concept", concept)] + [("present", p) for p in present]
    params += [("exclude", e) for e in exclude] + [("miners", m) for m in miners or ()]
    if k is not None:
        params.append(("k", str(k)))
    return params


def _delay(err: APIError, attempt: int) -> float:
    return min(err.retry_after if err.retry_after is not None else 0.2 * 2**attempt, 10.0)


class Client:
    """Synchronous client. ``with Client(url) as c: c.negatives([...])``."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        timeout: float = 60.0,
        retries: int = 2,
        http: httpx.Client | None = None,
    ) -> None:
        self.retries = retries
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout)

    def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        for attempt in range(self.retries + 1):
            try:
                resp = self._http.request(method, path, **kw)
            except httpx.HTTPError as exc:
                raise TransportError(f"{method} {path}: {exc}") from exc
            if resp.is_success:
                return resp
            err = _error_from(resp)
            if resp.status_code not in RETRY_STATUSES or attempt == self.retries:
                raise err
            time.sleep(_delay(err, attempt))
        raise AssertionError("unreachable")

    def negatives(
        self, items: Sequence[RequestItem | dict[str, Any]] | NegativesRequest, **options: Any
    ) -> NegativesResponse:
        body = build_request(items, **options).model_dump(mode="json", exclude_none=True)
        return NegativesResponse.model_validate_json(
            self._send("POST", "/v1/negatives", json=body).content
        )

    def negatives_for(
        self,
        concept: str,
        present: Sequence[str] = (),
        exclude: Sequence[str] = (),
        k: int | None = None,
        miners: Sequence[str] | None = None,
    ) -> ItemResult:
        params = _concept_params(concept, present, exclude, k, miners)
        resp = self._send("GET", "/v1/negatives", params=params)
        return NegativesResponse.model_validate_json(resp.content).items[0]

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
    """Asynchronous client with the same methods as :class:`Client`."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        timeout: float = 60.0,
        retries: int = 2,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.retries = retries
        self._http = http or httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def _send(self, method: str, path: str, **kw: Any) -> httpx.Response:
        for attempt in range(self.retries + 1):
            try:
                resp = await self._http.request(method, path, **kw)
            except httpx.HTTPError as exc:
                raise TransportError(f"{method} {path}: {exc}") from exc
            if resp.is_success:
                return resp
            err = _error_from(resp)
            if resp.status_code not in RETRY_STATUSES or attempt == self.retries:
                raise err
            await asyncio.sleep(_delay(err, attempt))
        raise AssertionError("unreachable")

    async def negatives(
        self, items: Sequence[RequestItem | dict[str, Any]] | NegativesRequest, **options: Any
    ) -> NegativesResponse:
        body = build_request(items, **options).model_dump(mode="json", exclude_none=True)
        resp = await self._send("POST", "/v1/negatives", json=body)
        return NegativesResponse.model_validate_json(resp.content)

    async def negatives_for(
        self,
        concept: str,
        present: Sequence[str] = (),
        exclude: Sequence[str] = (),
        k: int | None = None,
        miners: Sequence[str] | None = None,
    ) -> ItemResult:
        params = _concept_params(concept, present, exclude, k, miners)
        resp = await self._send("GET", "/v1/negatives", params=params)
        return NegativesResponse.model_validate_json(resp.content).items[0]

    async def ready(self) -> dict[str, Any]:
        data: dict[str, Any] = (await self._http.get("/readyz")).json()
        return data

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
