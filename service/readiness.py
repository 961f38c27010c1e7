"""Readiness of the pipeline's parts for ``/readyz``: the cache, the embedder, every miner
(enabled or why not, and its own probe where it has one, bounded by READY_CHECK_S)."""

from __future__ import annotations

import asyncio
from typing import Any

from hardneg.miners.base import Registry
from hardneg.service.cache import Cache

READY_CHECK_S = 3.0  # a miner's readiness probe (e.g. the LLM server's /v1/models)


async def readiness(
    cache: Cache, embedder_id: str, registry: Registry
) -> dict[str, dict[str, Any]]:
    ok, detail = await cache.ping()
    parts: dict[str, dict[str, Any]] = {
        "cache": {"ok": ok, "backend": cache.name, "detail": detail},
        "embedder": {"ok": True, "id": embedder_id},
    }
    for name in registry.names:
        why = registry.disabled.get(name)
        parts[f"miner:{name}"] = {"ok": why is None, "detail": why or "enabled"}
    names = list(registry.miners)
    results = await asyncio.gather(
        *(asyncio.wait_for(registry.miners[n].check(), READY_CHECK_S) for n in names),
        return_exceptions=True,
    )
    for name, res in zip(names, results, strict=True):
        if res is None:
            continue  # nothing to ask: enabled is all there is to say
        ok_, detail_ = (False, f"check failed: {res!r}") if isinstance(res, BaseException) else res
        parts[f"miner:{name}"] = {"ok": bool(ok_), "detail": str(detail_)}
    return parts
