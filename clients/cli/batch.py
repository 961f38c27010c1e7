"""Regenerate negatives for a whole dataset: items in, one JSON line per item out, streamed.

Inputs are read by ``batch_inputs`` (JSONL items, COCO/LVIS, SA-Co image-phrase files, plain
concept lists). Each output record is the item's answer plus ``key`` (a digest of the item and
the options) and ``versions`` (embedder, miners, data snapshots). A rerun skips the records whose
key and versions still hold, so a killed job picks up where it stopped and writes no duplicate;
records made with other options or older versions are dropped from the output and recomputed
(the report says how many); ``force`` recomputes everything. The engine is the same pipeline as
the service, in-process, or a running service (``url``): cost follows distinct concepts.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hardneg.clients.cli.backends import Backend, open_backend
from hardneg.clients.cli.batch_inputs import BatchInputError, BatchItem, iter_items
from hardneg.miners.types import (
    MAX_ITEMS,
    MineOptions,
    NegativesRequest,
    NegativesResponse,
    RequestItem,
)

__all__ = ["BatchInputError", "BatchReport", "run_batch"]

Progress = Callable[[int, int], None]


@dataclass
class BatchReport:
    total: int
    skipped: int
    written: int
    degraded: int
    stale_options: int = 0  # records made with other options, recomputed
    stale_versions: int = 0  # records made with an older embedder/miner/snapshot, recomputed
    notes: int = 0  # items with nothing to mine (written with a note)


def item_key(bi: BatchItem, options: MineOptions) -> str:
    """What a record depends on besides versions: the item as asked and the options."""
    what = {
        "item": bi.item.model_dump(mode="json") if bi.item else None,
        "meta": bi.meta,
        "options": options.model_dump(mode="json"),
    }
    blob = json.dumps(what, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha1(blob).hexdigest()[:20]


def drop_torn_tail(output: Path) -> None:
    """A killed run can leave half a line at the end: cut it so appended lines stay whole."""
    if not output.exists():
        return
    with output.open("rb+") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if size == 0:
            return
        fh.seek(max(0, size - 1))
        if fh.read(1) == b"\n":
            return
        fh.seek(0)
        data = fh.read()
        fh.truncate(data.rfind(b"\n") + 1)


def _records(output: Path) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """(line, parsed record or None when unreadable) for each line of ``output``."""
    if not output.exists():
        return
    with output.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                rec = json.loads(line)
                yield line, rec if isinstance(rec, dict) and "id" in rec else None
            except ValueError:
                yield line, None


def _done(output: Path) -> dict[str, tuple[str, str]]:
    """id -> (key, versions digest) of every readable record in ``output``."""
    return {
        str(rec["id"]): (str(rec.get("key", "")), _digest(rec.get("versions", {})))
        for _, rec in _records(output)
        if rec is not None
    }


def _digest(versions: dict[str, Any]) -> str:
    return json.dumps(versions, sort_keys=True)


def _keep_only(output: Path, keep: set[str]) -> None:
    """Rewrite ``output`` with only the records whose id is in ``keep`` (atomic replace)."""
    tmp = output.with_name(output.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for line, rec in _records(output):
            if rec is not None and str(rec["id"]) in keep:
                out.write(line)
    os.replace(tmp, output)


async def _current_versions(backend: Backend, source: Path, options: MineOptions) -> str:
    """The versions this run's records will carry: asked with the first item's first concept
    (a bare concept: cheap, and cached for the run itself)."""
    first = next((bi.item for bi in iter_items(source) if bi.item is not None), None)
    if first is None:
        return _digest({})
    probe = RequestItem(positives=first.positives[:1])
    resp = await backend.negatives(NegativesRequest(items=[probe], **options.model_dump()))
    return _digest({"embedder": resp.embedder, **resp.versions})


async def _plan(
    source: Path, output: Path, options: MineOptions, backend: Backend, force: bool
) -> tuple[BatchReport, set[str]]:
    """Which items are done (skipped); drops stale records from ``output`` and counts them."""
    drop_torn_tail(output)
    if force and output.exists():
        output.unlink()
    done = _done(output)
    versions = await _current_versions(backend, source, options) if done else ""
    report = BatchReport(total=0, skipped=0, written=0, degraded=0)
    skip: set[str] = set()
    for bi in iter_items(source):
        report.total += 1
        old = done.get(bi.id)
        if old is None:
            continue
        if old[0] != item_key(bi, options):
            report.stale_options += 1
        elif bi.item is not None and old[1] != versions:
            report.stale_versions += 1
        else:
            skip.add(bi.id)
    if report.stale_options or report.stale_versions:  # recomputed below: one record per id
        _keep_only(output, skip | (done.keys() - _ids(source)))
    report.skipped = len(skip)
    return report, skip


def _ids(source: Path) -> set[str]:
    return {bi.id for bi in iter_items(source)}


def _chunks(source: Path, skip: set[str], size: int) -> Iterator[list[BatchItem]]:
    chunk: list[BatchItem] = []
    for bi in iter_items(source):
        if bi.id in skip:
            continue
        chunk.append(bi)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def _answer(
    backend: Backend, chunk: list[BatchItem], options: MineOptions
) -> list[dict[str, Any]]:
    """One record per item of ``chunk``, in order (items with nothing to mine: their note)."""
    todo = [bi.item for bi in chunk if bi.item is not None]
    answers: dict[str, dict[str, Any]] = {}
    versions: dict[str, Any] = {}
    if todo:
        resp = await backend.negatives(NegativesRequest(items=todo, **options.model_dump()))
        versions = {"embedder": resp.embedder, **resp.versions}
        answers = {r.id: r.model_dump(mode="json", exclude={"cached"}) for r in resp.items}
    records = []
    for bi in chunk:
        rec = answers.get(bi.id) or {"id": bi.id, "negatives": [], "miners": {}, "degraded": False}
        rec["positives"] = bi.item.positives if bi.item is not None else []
        rec["key"] = item_key(bi, options)
        rec["versions"] = versions if bi.item is not None else {}
        if bi.meta:
            rec["meta"] = bi.meta
        if bi.note:
            rec["note"] = bi.note
        records.append(rec)
    return records


class _ProbeOnly:
    """The Ray engine's driver mines nothing; it opens the in-process pipeline only when a
    resumed run must learn the current versions."""

    def __init__(self, options: MineOptions) -> None:
        self.options = options
        self._backend: Backend | None = None

    async def negatives(self, request: NegativesRequest, /) -> NegativesResponse:
        if self._backend is None:
            self._backend = await open_backend(None, options=self.options)
        return await self._backend.negatives(request)

    async def aclose(self) -> None:
        if self._backend is not None:
            await self._backend.aclose()


async def _local_records(
    backend: Backend, parts: Iterator[list[BatchItem]], options: MineOptions
) -> AsyncIterator[list[dict[str, Any]]]:
    for part in parts:
        yield await _answer(backend, part, options)


async def _ray_records(
    parts: Iterator[list[BatchItem]], options: MineOptions, actors: int, chunk: int
) -> AsyncIterator[list[dict[str, Any]]]:
    from hardneg.clients.cli.batch_ray import ray_records

    for records in ray_records(parts, options, actors, chunk):
        yield records


async def run_batch(
    source: Path,
    output: Path,
    options: MineOptions,
    *,
    url: str | None = None,
    chunk: int = 256,
    progress: Progress | None = None,
    api_key: str | None = None,
    force: bool = False,
    engine: str = "local",
    actors: int = 1,
) -> BatchReport:
    """Answer every item of ``source`` not yet answered (with these options and versions) in
    ``output``, ``chunk`` items per request; memory is bounded by the chunk, not the dataset.
    ``engine="ray"`` mines on a pool of ``actors`` Ray actors instead (same records)."""
    if engine not in ("local", "ray"):
        raise ValueError(f"unknown engine {engine!r}; local or ray")
    next(iter_items(source), None)  # a bad or unreadable input fails before anything loads
    backend: Backend
    if engine == "ray":
        backend = _ProbeOnly(options)
    else:
        backend = await open_backend(url, options=options, timeout_s=600, api_key=api_key)
    size = max(1, min(chunk, MAX_ITEMS))
    try:
        report, skip = await _plan(source, output, options, backend, force)
        parts = _chunks(source, skip, size)
        stream = (
            _ray_records(parts, options, actors, size)
            if engine == "ray"
            else _local_records(backend, parts, options)
        )
        await _write(stream, output, report, progress)
    finally:
        await backend.aclose()
    return report


async def _write(
    stream: AsyncIterator[list[dict[str, Any]]],
    output: Path,
    report: BatchReport,
    progress: Progress | None,
) -> None:
    """Append the records as they come, flushed per batch, counting them in ``report``."""
    todo = report.total - report.skipped
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("a", encoding="utf-8") as out:
        async for records in stream:
            for rec in records:
                out.write(json.dumps(rec, ensure_ascii=False) + "\n")
                report.degraded += bool(rec.get("degraded"))
                report.notes += "note" in rec
            out.flush()
            report.written += len(records)
            if progress is not None:
                progress(report.written, todo)
