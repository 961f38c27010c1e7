"""The built-in ``http`` verifier: a small JSON contract to a user's detector server.

Request, ``POST HARDNEG_VERIFIER_URL``::

    {"image": {"base64": "...", "sha256": "...", "width": 640, "height": 480},
     "phrases": ["yellow school bus", "yellow taxi"]}

Answer, 200::

    {"model": "owlv2-base-patch16", "detections": [
        {"phrase": "yellow taxi", "score": 0.81, "bbox": [x, y, w, h],
         "segmentation": {"size": [h, w], "counts": "..."}}]}

``bbox`` is COCO's (pixels, top-left corner, width, height); ``segmentation`` (a COCO RLE) is
optional. A phrase with no detection is simply absent from the list. 429 and 503 may carry
Retry-After; 429, 5xx and connection errors are retried with backoff, and a circuit breaker stops
calling a server that keeps failing (``hardneg.miners.resilience``). docs/verifiers.md.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from typing import Any

import httpx

from hardneg.miners.errors import CircuitOpen, MinerTimeout, MinerUnavailable, UpstreamError
from hardneg.miners.resilience import CircuitBreaker, LoopLocal, backoff_s, parse_retry_after
from hardneg.miners.settings import SettingsSection
from hardneg.miners.verify.base import VerifierBase, VerifyImage
from hardneg.miners.verify.outcome import Detection
from hardneg.miners.verify.settings import VerifySettings

__all__ = ["HttpVerifier", "VerifierError", "VerifierTimeout"]

BACKOFF_BASE_S, BACKOFF_MAX_S = 0.2, 2.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class VerifierError(UpstreamError):
    """The detector server failed, refused, or answered outside the contract."""


class VerifierTimeout(VerifierError, MinerTimeout):
    """The detector server did not answer in time."""


class VerifierCircuitOpen(VerifierError, CircuitOpen):
    """Calls to a failing detector server are paused."""


class HttpVerifier(VerifierBase):
    """Posts the image and phrases to ``verifier_url``; see the module docstring."""

    name = "http"
    version = "1"

    def __init__(self, settings: SettingsSection) -> None:
        s = settings if isinstance(settings, VerifySettings) else VerifySettings()
        if not s.verifier_url:
            raise MinerUnavailable("HARDNEG_VERIFIER_URL is not set")
        self.url = s.verifier_url
        self.timeout_s = s.verifier_timeout_s
        self.retries = s.verifier_retries
        self.breaker = CircuitBreaker(name="verifier", error=VerifierCircuitOpen)
        self._client = LoopLocal(lambda: httpx.AsyncClient(timeout=self.timeout_s))

    async def detect(
        self, image: VerifyImage, phrases: Sequence[str]
    ) -> dict[str, list[Detection]]:
        body = {
            "image": {
                "base64": base64.b64encode(image.data).decode(),
                "sha256": image.sha256,
                "width": image.width,
                "height": image.height,
            },
            "phrases": list(phrases),
        }
        self.breaker.before_call()
        try:
            answer = await asyncio.wait_for(self._post(body), self.timeout_s)
        except asyncio.CancelledError:
            self.breaker.release()
            raise
        except TimeoutError:
            self.breaker.failure("timeout")
            raise VerifierTimeout(f"detector did not answer within {self.timeout_s:g}s") from None
        except Exception as exc:
            self.breaker.failure(str(exc)[:120])
            raise
        self.breaker.success()
        return parse_answer(answer, phrases)

    async def _post(self, body: dict[str, Any]) -> Any:
        """One call with retries on 429/5xx/connection errors, honouring Retry-After."""
        error = ""
        for attempt in range(self.retries + 1):
            delay = backoff_s(attempt, BACKOFF_BASE_S, BACKOFF_MAX_S)
            try:
                resp = await self._client.get().post(self.url, json=body)
            except httpx.TimeoutException:
                raise TimeoutError from None
            except httpx.TransportError as exc:
                error = f"cannot reach detector at {self.url}: {type(exc).__name__}"
            else:
                if resp.status_code == 200:
                    try:
                        return resp.json()
                    except ValueError:
                        raise VerifierError(f"not JSON: {resp.text[:120]!r}") from None
                error = f"detector answered HTTP {resp.status_code}: {resp.text[:120]}"
                if resp.status_code not in RETRY_STATUSES:
                    raise VerifierError(error)
                asked = parse_retry_after(resp.headers.get("retry-after"))
                delay = delay if asked is None else asked
            if attempt < self.retries:
                await asyncio.sleep(delay)
        raise VerifierError(f"{error} (after {self.retries} retries)")

    async def check(self) -> tuple[bool, str] | None:
        return (self.breaker.state != "open", f"{self.url} circuit {self.breaker.state}")

    async def aclose(self) -> None:
        await self._client.aclose(lambda c: c.aclose())


def _detection(d: Any) -> tuple[str, Detection]:
    phrase, score, bbox = d["phrase"], d["score"], d["bbox"]
    if not isinstance(phrase, str) or type(score) not in (int, float) or not 0 <= score <= 1:
        raise ValueError("phrase must be a string and score a number in [0, 1]")
    if not (
        isinstance(bbox, list) and len(bbox) == 4 and all(type(x) in (int, float) for x in bbox)
    ):
        raise ValueError("bbox must be [x, y, width, height]")
    seg = d.get("segmentation")
    if seg is not None and not (isinstance(seg, dict) and "size" in seg and "counts" in seg):
        raise ValueError("segmentation must be a COCO RLE {size, counts}")
    x, y, w, h = (float(v) for v in bbox)
    return phrase, Detection(float(score), (x, y, w, h), seg)


def parse_answer(answer: Any, phrases: Sequence[str]) -> dict[str, list[Detection]]:
    """Detections per asked phrase; anything outside the contract is a VerifierError."""
    out: dict[str, list[Detection]] = {p: [] for p in phrases}
    dets = answer.get("detections") if isinstance(answer, dict) else None
    if not isinstance(dets, list):
        raise VerifierError("answer has no 'detections' list")
    for i, d in enumerate(dets):
        try:
            phrase, det = _detection(d)
        except (KeyError, TypeError, ValueError) as exc:
            raise VerifierError(f"detections[{i}]: {exc}") from None
        if phrase in out:  # phrases nobody asked about are ignored
            out[phrase].append(det)
    return out
