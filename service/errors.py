"""One error body shape for the whole API, built in one place.

``{"error": {"message": str, "type": str, "code": int}}``. Bad input is 400/422, overload 429 with
Retry-After, a dependency down 503, an upstream timeout 504; nothing unexpected leaks as a bare 500.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from hardneg.miners import errors as server
from hardneg.miners.types import ErrorResponse, describe_errors

__all__ = [
    "ApiError",
    "BadRequest",
    "DependencyDown",
    "Forbidden",
    "NotFound",
    "Overloaded",
    "PayloadTooLarge",
    "Unauthorized",
    "UpstreamTimeout",
    "as_api_error",
    "declared",
    "describe_errors",
    "error_body",
    "error_response",
    "install_error_handlers",
]

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


class Unauthorized(ApiError):
    status, type = 401, "unauthorized"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    status, type = 403, "forbidden"


class PayloadTooLarge(ApiError):
    status, type = 413, "payload_too_large"


class DependencyDown(ApiError):
    status, type = 503, "dependency_unavailable"


class UpstreamTimeout(ApiError):
    status, type = 504, "upstream_timeout"


# Server-side exceptions (hardneg.miners.errors) and the stores' own, mapped to HTTP: the one
# place where an exception becomes a status. The first matching row wins.
STATUS_OF: tuple[tuple[type[Exception] | tuple[type[Exception], ...], int, str], ...] = (
    (server.NotFound, 404, "not_found"),
    (server.Conflict, 409, "conflict"),
    (server.InvalidInput, 422, "invalid_request"),
    (server.Overloaded, 429, "overloaded"),
    (server.MinerTimeout, 504, "upstream_timeout"),
    ((server.DependencyDown, server.UpstreamError), 503, "dependency_unavailable"),
    ((RedisError, sqlite3.Error, OSError), 503, "dependency_unavailable"),
)


DESCRIPTIONS = {
    401: "No API key, or an unknown one (only when the service has keys)",
    403: "This API key may only read",
    404: "Not found",
    409: "Conflicts with what is stored (e.g. other predictions for an ingested round)",
    413: "Request body (or an uploaded file) larger than the limit",
    422: "Invalid request, malformed JSON or body (the message says what is wrong)",
    429: "Overloaded; retry after Retry-After seconds",
    503: "A store or dependency the route needs is down",
    504: "A dependency did not answer in time",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}},
    429: {"Retry-After": {"schema": {"type": "string"}, "description": "Seconds to wait"}},
}


def declared(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error statuses a route can answer, in the one shape."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        out[status] = {"model": ErrorResponse, "description": DESCRIPTIONS[status]}
        if status in _HEADERS:
            out[status]["headers"] = _HEADERS[status]
    return out


FASTAPI_BODY_ERROR = "There was an error parsing the body"
HTTP_TYPES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def allowed_methods(request: Request) -> str:
    """The ``Allow`` header of a 405: every method any route serves at this path (Starlette
    names only the first matching route's, so GET + POST on one path said just one)."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.router.routes):  # included routers flattened
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(route.methods or ())
    return ", ".join(sorted(methods))


def as_api_error(exc: BaseException) -> ApiError | None:
    """The API error an exception stands for, or None when it is unexpected (a bug: 500)."""
    if isinstance(exc, ApiError):
        return exc
    for kinds, status, kind in STATUS_OF:
        if isinstance(exc, kinds):
            message = str(exc) or type(exc).__name__
            if isinstance(exc, server.Overloaded):
                return Overloaded(message, retry_after_s=math.ceil(exc.retry_after_s))
            if isinstance(exc, RedisError | sqlite3.Error | OSError):
                message = f"store unavailable: {message}"
            return ApiError(message, status=status, type=kind)
    return None


def error_body(message: str, type: str, code: int) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "code": code}}


def error_response(
    message: str, type: str, code: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(message, type, code), status_code=code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception to the one error body shape."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.message, exc.type, exc.status, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(describe_errors(exc.errors()), "invalid_request", 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status, headers = exc.status_code, dict(exc.headers or {})
        message, kind = str(exc.detail), HTTP_TYPES.get(status, "http_error")
        if status == 400:
            # FastAPI's and Starlette's answer to a body they could not read (a malformed
            # multipart form, say); the README promises 422 for malformed bodies
            status, kind = 422, "invalid_request"
            cause = exc.__cause__ if exc.detail == FASTAPI_BODY_ERROR else None
            message = f"malformed body: {cause or exc.detail}"
        elif status == 405:
            headers["Allow"] = allowed_methods(request)
        return error_response(message, kind, status, headers)

    async def _mapped(_: Request, exc: Exception) -> JSONResponse:
        api = as_api_error(exc)
        if api is None:  # a subclass of a mapped type that is not mapped itself: a bug
            return await _unexpected(_, exc)
        return error_response(api.message, api.type, api.status, api.headers)

    # Handlers per class run inside the app (ExceptionMiddleware), unlike the catch-all below.
    for kinds, _status, _kind in STATUS_OF:
        for kind in kinds if isinstance(kinds, tuple) else (kinds,):
            app.add_exception_handler(kind, _mapped)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(f"internal error: {type(exc).__name__}", "internal_error", 500)
