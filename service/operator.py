"""Operator work (false-positive ingestion) kept apart from serving: its own threads, one
ingestion at a time per process, and server files read only from under a configured root.

A path is refused with the same message whether it is outside the root, missing, a directory,
a FIFO, a device or unreadable, so the API never tells whether a path exists. Files are opened
non-blocking (a FIFO cannot stall the open), must be regular files, are capped in size and read
with a timeout on the operator's threads, never on the shared pool that serves requests.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from pydantic import Field

from hardneg.miners.errors import InvalidInput, MinerTimeout, Overloaded
from hardneg.miners.settings import SettingsSection
from hardneg.service.errors import PayloadTooLarge

__all__ = ["Operator", "OperatorSettings", "PathRefused"]

T = TypeVar("T")
MiB = 1024 * 1024


class OperatorSettings(SettingsSection):
    """Operator routes: false-positive ingestion (service/operator.py)."""

    fp_ingest_root: Path | None = Field(
        None,
        description="Directory whose regular files `*_path` fields of POST /v1/false-positives"
        " may name (relative to it); unset = server paths are refused (upload the files).",
    )
    fp_max_file_bytes: int = Field(
        64 * MiB,
        ge=1,
        description="Largest ground-truth or predictions file (read from the root or uploaded),"
        " and the body limit of the false-positive routes.",
    )
    fp_read_timeout_s: float = Field(
        30.0, gt=0, description="Reading one file from the ingest root gives up after this."
    )
    operator_threads: int = Field(
        1,
        ge=1,
        description="Threads (and ingestions at once) for operator work; more ingestions wait"
        " for none: they get 429.",
    )


class PathRefused(InvalidInput):
    """A server path that cannot be ingested; one message for every reason (HTTP 422)."""

    def __init__(self, field: str) -> None:
        super().__init__(
            f"{field}: not a readable regular file under the ingest root"
            " (HARDNEG_FP_INGEST_ROOT); or upload it to POST /v1/false-positives/upload"
        )


class Operator:
    """The operator's executor, its one-at-a-time gate and its file reader."""

    def __init__(self, settings: OperatorSettings) -> None:
        self.settings = settings
        root = settings.fp_ingest_root
        self.root = root.resolve() if root is not None else None
        self._pool = ThreadPoolExecutor(settings.operator_threads, "hardneg-operator")
        self._busy = 0

    def claim(self) -> None:
        """Take an ingestion slot now or raise Overloaded (429): ingestions never queue."""
        if self._busy >= self.settings.operator_threads:
            raise Overloaded("an ingestion is already running; retry when it is done", 5.0)
        self._busy += 1

    def release(self) -> None:
        self._busy -= 1

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """Run CPU- or IO-bound operator work on the operator's threads."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def read(self, field: str, given: str) -> bytes:
        """The bytes of ``given`` (relative to the root), or PathRefused / 413 / 504."""
        if self.root is None:
            raise PathRefused(field)
        s = self.settings
        try:
            return await asyncio.wait_for(
                self.run(_read_regular, self.root, given, s.fp_max_file_bytes, field),
                s.fp_read_timeout_s,
            )
        except TimeoutError as exc:
            raise MinerTimeout(
                f"{field}: reading took longer than {s.fp_read_timeout_s:g} s"
            ) from exc

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _read_regular(root: Path, given: str, cap: int, field: str) -> bytes:
    """Read a regular file under ``root`` (symlinks resolved first, and inside the root)."""
    try:
        path = (root / given).resolve(strict=True)
        if not path.is_relative_to(root):
            raise PathRefused(field)
        # O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOFOLLOW: the file resolved
        # above must not turn into a symlink between the check and the open
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except (OSError, ValueError, RuntimeError) as exc:  # ValueError: NUL; RuntimeError: loop
        raise PathRefused(field) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PathRefused(field)
        if info.st_size > cap:
            raise PayloadTooLarge(
                f"{field}: file larger than {cap} bytes (HARDNEG_FP_MAX_FILE_BYTES)"
            )
        chunks, total = [], 0
        while chunk := os.read(fd, MiB):
            total += len(chunk)
            if total > cap:  # it grew while being read
                raise PayloadTooLarge(f"{field}: file larger than {cap} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise PathRefused(field) from exc
    finally:
        os.close(fd)
