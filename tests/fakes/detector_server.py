"""A fake open-vocabulary detector server standing in for a GPU detector (OWLv2, Grounding DINO,
SAM 3 behind a small HTTP wrapper), speaking the ``http`` verifier's JSON contract
(docs/verifiers.md), including its failures.

A real HTTP server on a free loopback port in a thread of the test process. ``boxes`` scripts
the answer: phrase -> list of detections (``score``, ``bbox``, optional ``segmentation``), the
same for every image. ``failures`` is a queue of modes served before normal answers: ``"500"``,
``"429"`` (with Retry-After: 0), ``"stall"`` (sleeps past any client timeout), ``"garbage"``
(200 with a body that is not JSON), ``"badshape"`` (JSON outside the contract). Every request
body is recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeDetector:
    def __init__(self) -> None:
        self.boxes: dict[str, list[dict[str, Any]]] = {}
        self.failures: deque[str] = deque()
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                mode = fake.failures.popleft() if fake.failures else "ok"
                if mode == "stall":
                    time.sleep(2)
                    return
                if mode in ("500", "429"):
                    self._send(int(mode), b'{"error": "busy"}', {"Retry-After": "0"})
                elif mode == "garbage":
                    self._send(200, b"<html>oops</html>")
                elif mode == "badshape":
                    self._send(200, b'{"detections": [{"phrase": "x", "score": 7}]}')
                else:
                    self._send(200, json.dumps(fake.answer(body)).encode())

            def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return None

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                return None

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1/detect"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        dets = [{"phrase": p, **d} for p in body.get("phrases", []) for d in self.boxes.get(p, [])]
        return {"model": "fake-owlv2", "detections": dets}

    def close(self) -> None:
        self.httpd.shutdown()
