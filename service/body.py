"""Request bodies: a size limit enforced before anything is parsed, and strict JSON.

``BodyLimit`` is a pure ASGI middleware: a declared ``Content-Length`` over the limit is answered
413 before the body is read at all; a streamed (chunked) body is counted as it arrives and cut at
the limit, so memory never holds more than the limit. Starlette's own body-limit middleware
answers plain text on its fast path; the API promises one error shape, hence this one.

``StrictJSONRoute`` parses JSON bodies strictly: invalid UTF-8, NaN/Infinity, lone surrogates
and nesting deeper than ``MAX_JSON_DEPTH`` are 422 "malformed JSON" (FastAPI alone answers 400
for the first and last, and echoes the others into 500s later), in the one error shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from hardneg.service.errors import error_body

__all__ = ["MAX_JSON_DEPTH", "BodyLimit", "BodyTooLarge", "StrictJSONRoute", "parse_json"]

# Deep enough for every body the API takes (COCO ground truth with RLE masks is ~6 levels).
MAX_JSON_DEPTH = 32
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` when a streamed body passes the limit (FastAPI re-raises HTTP
    exceptions as they are, so the app's handler answers it in the one error shape)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes; send less per request")


class BodyLimit:
    """Pure ASGI middleware: at most ``default`` bytes of body, or ``per_path[prefix]`` for
    paths under a prefix (the longest matching prefix wins)."""

    def __init__(self, app: Any, default: int, per_path: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.default = default
        self.per_path = sorted((per_path or {}).items(), key=lambda kv: -len(kv[0]))

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.per_path:
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _send_413(send, limit)  # before a single byte of the body is read
            return
        seen, started = 0, False

        async def counted() -> dict[str, Any]:
            nonlocal seen
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLarge:
            if started:
                raise
            await _send_413(send, limit)


def _content_length(scope: dict[str, Any]) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server (h11/httptools) rejects a malformed one itself
    return None


async def _send_413(send: Any, limit: int) -> None:
    exc = BodyTooLarge(limit)
    body = json.dumps(error_body(str(exc.detail), "payload_too_large", 413)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    # the unread body stays on the socket: tell the client this connection is done
    headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _malformed(message: str) -> json.JSONDecodeError:
    """FastAPI turns a JSONDecodeError raised while reading the body into its 422 "json_invalid"
    validation error (any other exception there becomes a bare 400)."""
    return json.JSONDecodeError(message, "", 0)


def _reject_constant(token: str) -> Any:
    raise ValueError(f"{token} is not valid JSON")


def _check_depth(value: Any, max_depth: int) -> None:
    """Iterative walk (never recursion): raises when containers nest deeper than allowed."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise _malformed(f"nested deeper than {max_depth} levels")
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))


def _check_surrogates(value: Any) -> None:
    """Lone surrogates (``"\\ud800"``) parse in Python but cannot be encoded back: reject."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if _LONE_SURROGATE.search(node):
                raise _malformed("lone UTF-16 surrogate in a string")
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def parse_json(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Strictly parsed JSON of a request body; raises JSONDecodeError (422) otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _malformed(f"body is not valid UTF-8 (byte {exc.start})") from exc
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise _malformed(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except RecursionError as exc:
        raise _malformed(f"nested deeper than {max_depth} levels") from exc
    except ValueError as exc:
        raise _malformed(str(exc)) from exc
    if isinstance(value, dict | list):
        _check_depth(value, max_depth)
        if "\\ud" in text or "\\uD" in text:  # only an escape can make a lone surrogate
            _check_surrogates(value)
    return value


class StrictJSONRequest(Request):
    """A request whose ``json()`` is :func:`parse_json` (FastAPI calls it for JSON bodies)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """Route class of every hardneg router: JSON bodies are parsed by :func:`parse_json`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict
