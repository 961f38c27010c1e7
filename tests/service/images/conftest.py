"""Images made in the test, served by a real HTTP server on a free loopback port, and a tiny
open_clip model with its image tower (random weights, the real open_clip code)."""

from __future__ import annotations

import base64
import io
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from tests.service.similarity.conftest import tiny_configs  # noqa: F401  (the fixture)


def png(seed: int = 0, size: int = 40) -> bytes:
    """A random RGB picture as PNG bytes."""
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


class ImageServer:
    """Serves ``routes`` (path -> bytes); ``/slow`` stalls, anything else is a 404."""

    def __init__(self) -> None:
        self.routes: dict[str, bytes] = {}
        self.hits: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits.append(self.path)
                if self.path == "/slow":
                    time.sleep(3)
                if self.path == "/moved":
                    self.send_response(302)
                    self.send_header("Location", "http://elsewhere.example/x.png")
                    self.end_headers()
                    return
                body = server.routes.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return None

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                return None  # a client that gave up (the timeout test) is expected

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture(scope="session")
def image_server() -> Iterator[ImageServer]:
    srv = ImageServer()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()


@pytest.fixture(scope="session")
def tiny_clip(tiny_configs):  # noqa: F811
    """open_clip ``hardneg-tiny`` with its image tower (random weights, seeded)."""
    import torch

    from hardneg.service.similarity import OpenClipEmbedder

    torch.manual_seed(7)
    return OpenClipEmbedder("hardneg-tiny", device="cpu", image_tower=True)


def image_item(image: str, id: str = "", positives: tuple[str, ...] = ("cat",)):
    """A request item carrying ``image``."""
    from hardneg.miners.types import RequestItem

    return RequestItem(id=id, positives=list(positives), image=image)
