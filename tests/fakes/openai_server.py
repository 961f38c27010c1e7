"""A fake OpenAI-compatible chat-completions server standing in for vLLM (tests and benchmarks).

A real HTTP server (uvicorn + Starlette) on a free loopback port, in a thread of the test process
or as its own process (``python -m tests.fakes.openai_server --port N``). It answers
``POST /v1/chat/completions`` with vLLM's response shape, ``GET /health`` and ``GET /v1/models``,
and can be scripted to fail the way real servers do: 429 + Retry-After, 5xx, a stall, prose
instead of JSON, a truncated reply, or rejecting ``json_schema`` like llama-cpp-python does.
Every request is recorded so tests can assert the prompt, ``response_format`` and prefix layout.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Behaviour = Callable[[dict[str, Any], "FakeLLM"], Awaitable[Response]]

MODIFIERS = [
    "red",
    "blue",
    "wooden",
    "green",
    "white",
    "plastic",
    "black",
    "orange",
    "glass",
    "purple",
    "pink",
    "grey",
    "toy",
    "striped",
    "miniature",
    "rusty",
]
_ids = itertools.count(1)


def item_of(body: dict[str, Any]) -> dict[str, Any]:
    """The item the client asked about: the last user message, JSON if it is JSON."""
    users = [m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user"]
    last = users[-1] if users else ""
    try:
        item = json.loads(last)
    except (TypeError, ValueError):
        item = None
    return item if isinstance(item, dict) else {"positive": str(last), "count": 5}


def propose(item: dict[str, Any]) -> list[dict[str, str]]:
    """Proposals derived from the request (a modifier swapped onto the positive's head noun)."""
    words = str(item.get("positive", "thing")).split() or ["thing"]
    head = " ".join(words[1:]) if len(words) > 1 else words[0]
    mods = [m for m in MODIFIERS if m != words[0]]
    count = max(0, int(item.get("count", 5)))
    return [
        {
            "phrase": f"{m} {head}",
            "shared_attribute": f"type: {head}",
            "kind": "material" if m in ("wooden", "plastic", "glass") else "colour",
        }
        for m in mods[:count]
    ]


def completion(body: dict[str, Any], content: str | None, finish_reason: str = "stop") -> Response:
    """A chat.completion body as vLLM sends it."""
    prompt_chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
    data = {
        "id": f"chatcmpl-fake-{next(_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "logprobs": None,
                "finish_reason": finish_reason,
                "message": {"role": "assistant", "content": content, "tool_calls": []},
            }
        ],
        "usage": {
            "prompt_tokens": prompt_chars // 4,
            "completion_tokens": len(content or "") // 4,
            "total_tokens": (prompt_chars + len(content or "")) // 4,
        },
    }
    return JSONResponse(data)


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    kind = {429: "RateLimitError", 400: "BadRequestError"}.get(status, "InternalServerError")
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": status}},
        status_code=status,
        headers=headers,
    )


# --- behaviours: each answers one request ---------------------------------------------------


def ok(proposer: Callable[[dict[str, Any]], list[dict[str, Any]]] = propose) -> Behaviour:
    async def run(body: dict[str, Any], _: FakeLLM) -> Response:
        return completion(body, json.dumps({"negatives": proposer(item_of(body))}))

    return run


def content(text: str | None, finish_reason: str = "stop") -> Behaviour:
    """Any assistant content, e.g. prose instead of JSON."""

    async def run(body: dict[str, Any], _: FakeLLM) -> Response:
        return completion(body, text, finish_reason)

    return run


def invalid_json() -> Behaviour:
    return content("Sure! Here are some hard negatives: red bus, blue bus, a toy bus.")


def truncated(keep: float = 0.5) -> Behaviour:
    """Cut where max_tokens would cut it: mid-JSON (``keep`` of the answer), finish "length"."""

    async def run(body: dict[str, Any], _: FakeLLM) -> Response:
        full = json.dumps({"negatives": propose(item_of(body))})
        return completion(body, full[: int(len(full) * keep)], "length")

    return run


def status(code: int, message: str = "", retry_after: str | None = None) -> Behaviour:
    async def run(body: dict[str, Any], _: FakeLLM) -> Response:
        headers = {"Retry-After": retry_after} if retry_after is not None else None
        return error(code, message or f"fake error {code}", headers)

    return run


def rate_limited(retry_after: str = "0") -> Behaviour:
    return status(429, "server overloaded, retry later", retry_after)


def stall(seconds: float, then: Behaviour | None = None) -> Behaviour:
    """Answer only after ``seconds`` (or never, if the server stops first)."""

    async def run(body: dict[str, Any], srv: FakeLLM) -> Response:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if srv.stopping:  # let the server stop at once instead of waiting out the stall
                return error(503, "server shutting down")
            await asyncio.sleep(0.02)
        return await (then or ok())(body, srv)

    return run


def reject_json_schema(then: Behaviour | None = None) -> Behaviour:
    """llama-cpp-python's server: 422 for response_format type json_schema, else answer."""

    async def run(body: dict[str, Any], srv: FakeLLM) -> Response:
        fmt = body.get("response_format") or {}
        if fmt.get("type") not in (None, "text", "json_object"):
            detail = [
                {
                    "type": "literal_error",
                    "loc": ["body", "response_format", "type"],
                    "msg": "Input should be 'text' or 'json_object'",
                    "input": fmt.get("type"),
                }
            ]
            return JSONResponse({"detail": detail}, status_code=422)
        return await (then or ok())(body, srv)

    return run


@dataclass
class Recorded:
    body: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


class FakeLLM:
    """The server: scripted behaviours are used once each, in order, then ``default``."""

    def __init__(
        self,
        default: Behaviour | None = None,
        record: bool = True,
        models: list[str] | None = None,
    ) -> None:
        self.default = default or ok()
        self._served = models or ["meta-llama/Llama-3.1-8B-Instruct"]  # as --served-model-name
        self.models = list(self._served)
        self.record = record
        self.requests: list[Recorded] = []
        self.in_flight = 0
        self.stopping = False
        self.max_in_flight = 0  # the most chat requests the server held at once
        self._script: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
                Route("/health", self._health, methods=["GET"]),
            ]
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._script.extend(behaviours)

    def reset(self, default: Behaviour | None = None) -> None:
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.default = default or ok()
            self.max_in_flight = 0
            self.models = list(self._served)

    async def _chat(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return error(400, "request body is not JSON")
        if not isinstance(body, dict) or not body.get("messages"):
            return error(400, "messages is required")
        with self._lock:
            if self.record:
                self.requests.append(Recorded(body, dict(request.headers)))
            behaviour = self._script.popleft() if self._script else self.default
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await behaviour(body, self)
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _models(self, _: Request) -> Response:
        data = [{"id": m, "object": "model", "owned_by": "vllm"} for m in self.models]
        return JSONResponse({"object": "list", "data": data})

    async def _health(self, _: Request) -> Response:
        return Response(status_code=200)

    def start(self) -> FakeLLM:
        self.stopping = False
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            daemon=True,
            name="fake-openai-server",
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake OpenAI server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.stopping = True
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def main() -> None:
    """Serve until interrupted (benchmarks, trying ``hardneg mine`` by hand)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8011)
    args = ap.parse_args()
    fake = FakeLLM(record=False)
    uvicorn.run(fake.app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
