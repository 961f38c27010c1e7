"""One error body shape for the whole API, built in one place.

``{"error": {"message": str, "type": str, "code": int}}``. Bad input is 400/422, overload 429 with
Retry-After, a dependency down 503, an upstream timeout 504; nothing unexpected leaks as a bare 500.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with its HTTP status; raise it anywhere under a route."""

    status = 400
    type = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type
        self.headers = headers or {}


class BadRequest(ApiError):
    status, type = 422, "invalid_request"


class NotFound(ApiError):
    status, type = 404, "not_found"


class Overloaded(ApiError):
    status, type = 429, "overloaded"

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after_s)})


class DependencyDown(ApiError):
    status, type = 503, "dependency_unavailable"


class UpstreamTimeout(ApiError):
    status, type = 504, "upstream_timeout"


def error_body(message: str, type: str, code: int) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "code": code}}


def error_response(
    message: str, type: str, code: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(message, type, code), status_code=code, headers=headers)


def describe_errors(errors: Sequence[Any]) -> str:
    """One readable line from pydantic's error list: 'items.0.positives: List should have...'."""
    parts = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        msg = str(err.get("msg", "invalid"))
        if err.get("type") == "json_invalid":
            ctx = err.get("ctx") or {}
            msg = f"malformed JSON: {ctx.get('error', msg)}"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception to the one error body shape."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.message, exc.type, exc.status, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(describe_errors(exc.errors()), "invalid_request", 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(
            str(exc.detail), "http_error", exc.status_code, dict(exc.headers or {})
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(f"internal error: {type(exc).__name__}", "internal_error", 500)
