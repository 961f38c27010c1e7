"""Records the HTTP exchanges a real Label Studio has with hardneg (test-only ASGI wrapper), so
CI can replay them without a Label Studio server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class Recorder:
    """Wraps an ASGI app; keeps (method, path, request JSON, status, response JSON) of requests
    under ``prefix``."""

    def __init__(self, app: Any, prefix: str = "/labelstudio") -> None:
        self.app = app
        self.prefix = prefix
        self.exchanges: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        body = bytearray()
        more = True
        messages = []
        while more:
            msg = await receive()
            messages.append(msg)
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
        replay = iter(messages)

        async def receive_again() -> dict[str, Any]:
            return next(replay, {"type": "http.disconnect"})

        out: dict[str, Any] = {"status": 0, "body": bytearray()}

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out["status"] = message["status"]
            elif message["type"] == "http.response.body":
                out["body"] += message.get("body", b"")
            await send(message)

        await self.app(scope, receive_again, send_wrapper)
        self.exchanges.append(
            {
                "method": scope["method"],
                "path": scope["path"][len(self.prefix) :] or "/",
                "request": _json(bytes(body)),
                "status": out["status"],
                "response": _json(bytes(out["body"])),
            }
        )

    def save(self, path: Path) -> None:
        """Write the exchanges, with the throwaway server's tokens blanked."""
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.exchanges, indent=1, sort_keys=True)
        path.write_text(json.dumps(_redact(json.loads(text)), indent=1, sort_keys=True) + "\n")


SECRETS = ("access_token", "token")


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "<redacted>" if k in SECRETS else _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")
