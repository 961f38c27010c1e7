"""Turn an item's ``image`` string into checked image bytes: URL, path under a root, or base64.

Every failure is an :class:`InvalidImage` (HTTP 422) whose message names the item and the reason
(``not_an_image``, ``too_large``, ``unreachable``, ``outside_root``, ``host_not_allowed``,
``bad_reference``), raised before any mining starts. Images are decoded with Pillow to prove they
are images; the content hash (SHA-256 of the bytes) is what embeddings are cached under.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import fnmatch
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote, urlsplit

import httpx

from hardneg.miners.errors import InvalidInput
from hardneg.miners.resilience import LoopLocal

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from hardneg.service.images.settings import ImageSettings

__all__ = ["ImageRef", "ImageSource", "InvalidImage", "LoadedImage", "parse_ref"]

Reason = Literal[
    "not_an_image", "too_large", "unreachable", "outside_root", "host_not_allowed", "bad_reference"
]
RefKind = Literal["url", "path", "base64"]

_B64 = re.compile(r"^[A-Za-z0-9+/\s]+={0,2}$")
_DATA_URI = re.compile(r"^data:(image/[\w.+-]+)?(;[\w=.+-]+)*;base64,", re.IGNORECASE)
# Leading bytes of the formats Pillow reads that are worth sending; bare base64 counts as base64
# only when it decodes to one of these, so a path like "/9j/x" is never mistaken for an image.
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"RIFF", b"BM", b"II*\x00", b"MM\x00*")


class InvalidImage(InvalidInput):
    """An item's image cannot be used; ``reason`` says which kind of problem (HTTP 422)."""

    def __init__(self, where: str, reason: Reason, detail: str) -> None:
        self.reason = reason
        super().__init__(f"{where}: {reason.replace('_', ' ')}: {detail}")


@dataclass(frozen=True)
class ImageRef:
    """A parsed ``image`` string: its form and what to read (URL, path, or the decoded bytes)."""

    kind: RefKind
    target: str = ""
    data: bytes = b""


@dataclass(frozen=True)
class LoadedImage:
    """A checked image: its bytes, their SHA-256, its size, and the decoded RGB picture (None in
    a slim copy kept between preflight and the steps: :meth:`picture` decodes it again)."""

    data: bytes
    sha256: str
    size: tuple[int, int]
    image: PILImage.Image | None = None

    def picture(self) -> PILImage.Image:
        if self.image is not None:
            return self.image
        from PIL import Image

        with Image.open(io.BytesIO(self.data)) as im:
            return im.convert("RGB")

    def slim(self) -> LoadedImage:
        return LoadedImage(self.data, self.sha256, self.size)


def parse_ref(value: str, where: str) -> ImageRef:
    """Classify an ``image`` string (no I/O): http(s) URL, data URI, bare base64 of an image,
    or a path (plain or ``file:``)."""
    text = value.strip()
    scheme = text.split(":", 1)[0].lower() if ":" in text[:12] else ""
    if scheme in ("http", "https"):
        if not urlsplit(text).hostname:
            raise InvalidImage(where, "bad_reference", f"URL {text[:80]!r} has no host")
        return ImageRef("url", target=text)
    if scheme == "data":
        if not _DATA_URI.match(text):
            raise InvalidImage(where, "bad_reference", "a data URI must be data:image/...;base64,")
        return ImageRef("base64", data=_b64decode(text.split(",", 1)[1], where))
    if scheme == "file":
        return ImageRef("path", target=unquote(urlsplit(text).path))
    if len(text) >= 16 and _B64.match(text):
        try:
            data = base64.b64decode(text, validate=False)
        except (binascii.Error, ValueError):
            data = b""
        if data.startswith(_MAGIC):
            return ImageRef("base64", data=data)
    if scheme and len(scheme) > 1:  # "c:" is a Windows drive, anything longer a scheme
        raise InvalidImage(where, "bad_reference", f"unsupported scheme {scheme!r}")
    if "\x00" in text or len(text) > 4096:
        raise InvalidImage(where, "bad_reference", "neither a URL, a path nor image base64")
    return ImageRef("path", target=text)


def _b64decode(payload: str, where: str) -> bytes:
    try:
        return base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidImage(where, "not_an_image", f"malformed base64 ({exc})") from None


def host_allowed(host: str, patterns: list[str]) -> bool:
    """``host`` equals a pattern, or matches a ``*.example.org`` one (case-insensitive)."""
    host = host.lower().rstrip(".")
    return any(fnmatch.fnmatchcase(host, p.lower().rstrip(".")) for p in patterns)


class ImageSource:
    """Reads images the way the settings allow; ``check`` is the no-I/O part of ``load``."""

    def __init__(self, settings: ImageSettings) -> None:
        self.s = settings
        self._root = settings.image_root.expanduser().resolve() if settings.image_root else None
        self._client = LoopLocal(self._make_client)

    def _make_client(self) -> httpx.AsyncClient:
        timeout = httpx.Timeout(self.s.image_timeout_s)
        return httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    def check(self, value: str, where: str) -> ImageRef:
        """Parse and check a reference against the allow-list and root, without reading it."""
        ref = parse_ref(value, where)
        if ref.kind == "url":
            host = urlsplit(ref.target).hostname or ""
            if not host_allowed(host, self.s.image_url_hosts):
                why = (
                    "URL images are off (HARDNEG_IMAGE_URL_HOSTS is empty)"
                    if not self.s.image_url_hosts
                    else "not in HARDNEG_IMAGE_URL_HOSTS"
                )
                raise InvalidImage(where, "host_not_allowed", f"host {host!r}: {why}")
        elif ref.kind == "path":
            self._resolve(ref.target, where)
        elif len(ref.data) > self.s.image_max_bytes:
            raise InvalidImage(where, "too_large", self._over(len(ref.data)))
        return ref

    def _resolve(self, target: str, where: str) -> Path:
        if self._root is None:
            raise InvalidImage(
                where, "outside_root", "path images are off (HARDNEG_IMAGE_ROOT unset)"
            )
        path = Path(target).expanduser()
        full = (path if path.is_absolute() else self._root / path).resolve()
        if not full.is_relative_to(self._root):
            raise InvalidImage(
                where, "outside_root", f"{target[:120]!r} is not under the image root"
            )
        return full

    def _over(self, n: int) -> str:
        return f"{n} bytes, more than HARDNEG_IMAGE_MAX_BYTES={self.s.image_max_bytes}"

    async def load(self, value: str, where: str) -> LoadedImage:
        """Check, read and decode one image; raises InvalidImage saying what is wrong."""
        ref = self.check(value, where)
        if ref.kind == "url":
            data = await self._fetch(ref.target, where)
        elif ref.kind == "path":
            data = await asyncio.to_thread(self._read, self._resolve(ref.target, where), where)
        else:
            data = ref.data
        return await asyncio.to_thread(self.decode, data, where)

    def _read(self, path: Path, where: str) -> bytes:
        try:
            size = path.stat().st_size
            if size > self.s.image_max_bytes:
                raise InvalidImage(where, "too_large", self._over(size))
            return path.read_bytes()
        except OSError as exc:
            why = f"cannot read {path.name!r}: {exc.strerror}"
            raise InvalidImage(where, "unreachable", why) from None

    async def _fetch(self, url: str, where: str) -> bytes:
        try:
            return await asyncio.wait_for(self._stream(url, where), self.s.image_timeout_s)
        except (TimeoutError, httpx.TimeoutException):
            why = f"no complete answer within {self.s.image_timeout_s:g}s"
            raise InvalidImage(where, "unreachable", why) from None
        except httpx.HTTPError as exc:
            raise InvalidImage(where, "unreachable", f"{type(exc).__name__}: {exc}") from None

    async def _stream(self, url: str, where: str) -> bytes:
        limit = self.s.image_max_bytes
        async with self._client.get().stream("GET", url) as resp:
            if resp.status_code != 200:
                to = resp.headers.get("location")
                extra = f" (redirects are not followed: {to[:80]})" if to else ""
                raise InvalidImage(where, "unreachable", f"HTTP {resp.status_code}{extra}")
            declared = resp.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise InvalidImage(where, "too_large", self._over(int(declared)))
            buf = bytearray()
            async for chunk in resp.aiter_bytes():
                buf += chunk
                if len(buf) > limit:
                    raise InvalidImage(where, "too_large", f"more than {limit} bytes (stopped)")
            return bytes(buf)

    def decode(self, data: bytes, where: str) -> LoadedImage:
        """Decode with Pillow (size checked before pixels are decoded: no decompression bombs)."""
        from PIL import Image, UnidentifiedImageError

        if len(data) > self.s.image_max_bytes:
            raise InvalidImage(where, "too_large", self._over(len(data)))
        try:
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
                if w * h > self.s.image_max_pixels:
                    why = f"{w}x{h} pixels, more than HARDNEG_IMAGE_MAX_PIXELS"
                    raise InvalidImage(where, "too_large", why)
                rgb = im.convert("RGB")
        except InvalidImage:
            raise
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
            raise InvalidImage(where, "not_an_image", f"{type(exc).__name__}: {exc}") from None
        digest = hashlib.sha256(data).hexdigest()
        return LoadedImage(data=data, sha256=digest, size=rgb.size, image=rgb)

    async def aclose(self) -> None:
        await self._client.aclose(lambda c: c.aclose())
