"""An in-test HTTP server standing in for the Wikidata query service (query.wikidata.org/sparql).

Only the public service's *behaviour* is faked, at the wire level: the SPARQL 1.1 protocol
(form-encoded POST or GET ``query=``), SPARQL JSON results, and its failure modes: 429 with
``Retry-After``, 5xx, slow answers, malformed or truncated bodies. It records every request
(arrival time, headers, query) and how many were in flight at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.procs import free_port


def results(*rows: dict[str, str]) -> bytes:
    """A SPARQL JSON results body; every value a literal."""
    names = sorted({k for r in rows for k in r})
    bindings = [{k: {"type": "literal", "value": v} for k, v in r.items()} for r in rows]
    return json.dumps({"head": {"vars": names}, "results": {"bindings": bindings}}).encode()


@dataclass
class Reply:
    status: int = 200
    body: bytes = field(default_factory=lambda: results({"x": "1"}))
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    content_type: str = "application/sparql-results+json"


@dataclass
class Seen:
    at: float  # time.monotonic() on arrival
    headers: dict[str, str]
    query: str


class FakeWDQS:
    """Answers from a queue of planned replies, then with ``default``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.planned: deque[Reply] = deque()
        self.default = Reply()
        self.seen: list[Seen] = []
        self.inflight = 0
        self.max_inflight = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sparql"

    def plan(self, *replies: Reply, default: Reply | None = None) -> None:
        with self._lock:
            self.planned = deque(replies)
            self.default = default or Reply()
            self.seen.clear()
            self.max_inflight = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next(self, seen: Seen) -> Reply:
        with self._lock:
            self.seen.append(seen)
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
            return self.planned.popleft() if self.planned else self.default

    def _done(self) -> None:
        with self._lock:
            self.inflight -= 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def _answer(self, query: str) -> None:
                reply = fake._next(Seen(time.monotonic(), dict(self.headers), query))
                try:
                    time.sleep(reply.delay_s)
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(reply.body)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting: what a timeout looks like from here
                finally:
                    fake._done()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                self._answer(form.get("query", [""])[0])

            def do_GET(self) -> None:
                self._answer(parse_qs(urlsplit(self.path).query).get("query", [""])[0])

        return Handler
