"""A small Label Studio REST client for ``hardneg annotate push`` (httpx only).

Tokens: a personal access token (a JWT refresh token; Label Studio's default since 1.18) is
exchanged for short-lived access tokens at ``/api/token/refresh/`` and renewed on 401; any other
token is sent as a legacy ``Token`` (the organisation must allow legacy tokens). 429 and 5xx are
retried with the shared backoff, honouring Retry-After.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx

from hardneg.miners.resilience import backoff_s, parse_retry_after

__all__ = ["LabelStudioAPI", "LabelStudioError"]

RETRIES = 4
PAGE_SIZE = 100


class LabelStudioError(Exception):
    """Label Studio refused a call or could not be reached; the message says which and why."""


class LabelStudioAPI:
    """The calls push needs: project, tasks page by page, task data update, prediction create."""

    def __init__(self, url: str, token: str, timeout_s: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.personal = token.count(".") == 2  # a JWT: personal access (refresh) token
        self._access: str | None = None
        self._http = httpx.AsyncClient(base_url=self.url, timeout=timeout_s)

    async def _auth(self, renew: bool = False) -> dict[str, str]:
        if not self.personal:
            return {"Authorization": f"Token {self.token}"}
        if self._access is None or renew:
            resp = await self._http.post("/api/token/refresh/", json={"refresh": self.token})
            if resp.status_code != 200:
                raise LabelStudioError(f"token refresh refused ({resp.status_code}): {resp.text}")
            self._access = str(resp.json()["access"])
        return {"Authorization": f"Bearer {self._access}"}

    async def call(self, method: str, path: str, **kw: Any) -> Any:
        """One API call with retries; its JSON answer, or LabelStudioError."""
        renewed = False
        for attempt in range(RETRIES + 1):
            try:
                resp = await self._http.request(method, path, headers=await self._auth(), **kw)
            except httpx.HTTPError as exc:
                if attempt == RETRIES:
                    raise LabelStudioError(f"{method} {self.url}{path}: {exc}") from exc
                await asyncio.sleep(backoff_s(attempt, 0.5, 10.0))
                continue
            if resp.status_code == 401 and self.personal and not renewed:
                renewed = True
                await self._auth(renew=True)
                continue
            if (resp.status_code == 429 or resp.status_code >= 500) and attempt < RETRIES:
                wait = parse_retry_after(resp.headers.get("Retry-After"))
                await asyncio.sleep(wait if wait is not None else backoff_s(attempt, 0.5, 10))
                continue
            if resp.is_error:
                raise LabelStudioError(f"{method} {path}: {resp.status_code} {resp.text[:300]}")
            return resp.json() if resp.content else None
        raise LabelStudioError(f"{method} {path}: no answer after {RETRIES} retries")

    async def project(self, project_id: int) -> dict[str, Any]:
        out: dict[str, Any] = await self.call("GET", f"/api/projects/{project_id}/")
        return out

    async def tasks(self, project_id: int) -> AsyncIterator[tuple[list[dict[str, Any]], int]]:
        """Pages of tasks (with their data and predictions), and the project's task total."""
        page = 1
        while True:
            params = {"project": project_id, "page": page, "page_size": PAGE_SIZE, "fields": "all"}
            try:
                body = await self.call("GET", "/api/tasks/", params=params)
            except LabelStudioError as exc:
                if "404" in str(exc) and page > 1:
                    return  # past the last page
                raise
            tasks = body.get("tasks") or []
            if not tasks:
                return
            yield tasks, int(body.get("total") or 0)
            page += 1

    async def set_task_data(self, task_id: int, data: dict[str, Any]) -> None:
        await self.call("PATCH", f"/api/tasks/{task_id}/", json={"data": data})

    async def create_prediction(
        self, task_id: int, result: list[dict[str, Any]], score: float, model_version: str
    ) -> None:
        body = {"task": task_id, "result": result, "score": score, "model_version": model_version}
        await self.call("POST", "/api/predictions/", json=body)

    async def aclose(self) -> None:
        await self._http.aclose()
