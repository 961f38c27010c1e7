"""The one orchestrator: cache lookup -> miners -> merge -> guard -> similarity filter -> cache store.

Routes, the CLI and batch jobs all call :meth:`Pipeline.mine`; nothing else re-implements the flow.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hardneg.miners.base import (
    MineQuery,
    MinerContext,
    MinerFactory,
    MinerOutput,
    Registry,
    Related,
    build_registry,
)
from hardneg.miners.knowledge import Knowledge
from hardneg.miners.knowledge.guard import Guard
from hardneg.miners.knowledge.normalize import normalize
from hardneg.miners.types import (
    ItemResult,
    MineOptions,
    MinerStatus,
    NegativesRequest,
    NegativesResponse,
    RequestItem,
)
from hardneg.service import metrics
from hardneg.service.cache import Cache, cache_key, make_cache
from hardneg.service.rank import Band, Ranker
from hardneg.service.settings import Settings
from hardneg.service.similarity import CachedEmbedder, default_band, load_embedder

log = logging.getLogger(__name__)

CACHE_SCHEMA = 1  # bump when the stored item format changes
STORED_PREFIX = b'{"negatives":'  # how a cached item starts (model_dump_json without id/cached)
DEGRADED_TTL_S = 60  # a degraded answer is cached briefly so a failing miner is retried soon
DATA_VERSION_REFRESH_S = 1.0  # how often run-time data versions (false positives) are re-read
READY_CHECK_S = 3.0  # a miner's readiness probe (e.g. the LLM server's /v1/models)


class InvalidOptions(ValueError):
    """The request's options cannot be honoured (checked before any work is done)."""


class UnknownMiner(InvalidOptions):
    """The request names a miner this service does not have."""


@dataclass
class Resolved:
    """Request options resolved against settings and the embedder's calibrated band."""

    k: int
    band: Band
    miners: list[str]


class Pipeline:
    """Owns the shared resources of one process and mines negatives for requests."""

    def __init__(
        self,
        settings: Settings,
        cache: Cache,
        embedder: CachedEmbedder,
        knowledge: Knowledge,
        registry: Registry,
        ctx: MinerContext,
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.embedder = embedder
        self.knowledge = knowledge
        self.registry = registry
        self.ctx = ctx
        self._versions_read_at = -1e9
        # Items of a batch are mined a few at a time: miner timeouts measure a miner, not a queue.
        self._item_slots = asyncio.Semaphore(settings.item_concurrency)

    @classmethod
    def create(
        cls,
        settings: Settings | None = None,
        *,
        cache: Cache | None = None,
        embedder: Any = None,
        factories: dict[str, MinerFactory] | None = None,
    ) -> Pipeline:
        """Build every resource from settings; pass ``embedder``/``cache`` to reuse loaded ones."""
        settings = settings or Settings()
        cache = cache if cache is not None else make_cache(settings)
        raw = embedder if embedder is not None else load_embedder(settings)
        cached = (
            raw
            if isinstance(raw, CachedEmbedder)
            else CachedEmbedder(raw, cache, ttl_s=settings.embedding_ttl_s)
        )
        knowledge = Knowledge.load_default()
        ctx = MinerContext(
            settings=settings, embedder=cached, cache=cache, extras={"knowledge": knowledge}
        )
        registry = build_registry(ctx, allow=settings.miners, factories=factories)
        for name, why in registry.disabled.items():
            log.info("miner %s disabled: %s", name, why)
        return cls(settings, cache, cached, knowledge, registry, ctx)

    async def warm_up(self, progress: Any = None, names: Sequence[str] | None = None) -> None:
        """Let miners (all, or ``names``) load indexes/data now rather than on first use."""
        for name, miner in self.registry.miners.items():
            ready = getattr(miner, "ready", None)
            if ready is not None and (names is None or name in names):
                await ready(progress) if progress is not None else await ready()

    def versions(self) -> dict[str, str]:
        out = {f"miner:{k}": v for k, v in self.registry.versions().items()}
        out["knowledge"] = self.knowledge.snapshot_id
        for name, miner in sorted(self.registry.miners.items()):
            snap = getattr(miner, "snapshot_id", None)
            if snap:
                out[f"data:{name}"] = str(snap)
        return out

    def resolve(self, opts: MineOptions) -> Resolved:
        """Check miner names and fill defaults; raises InvalidOptions before any work is done."""
        known = self.registry.names
        if opts.miners is not None:
            unknown = sorted(set(opts.miners) - set(known))
            if unknown:
                raise UnknownMiner(f"unknown miner(s) {unknown}; known: {known}")
            miners = sorted(set(opts.miners))
        else:
            miners = self.registry.names  # disabled ones are reported with their reason
        lo, hi = default_band(self.embedder.id)
        for value, is_lo in (
            (self.settings.min_similarity, True),
            (opts.min_similarity, True),
            (self.settings.max_similarity, False),
            (opts.max_similarity, False),
        ):
            if value is not None:
                lo, hi = (value, hi) if is_lo else (lo, value)
        if lo > hi:
            raise InvalidOptions(f"min_similarity {lo} is above max_similarity {hi}")
        band = Band(lo, hi)
        return Resolved(k=opts.k, band=band, miners=miners)

    async def mine(self, request: NegativesRequest) -> NegativesResponse:
        """Answer a whole request: one cache round trip, then compute the misses concurrently."""
        parts, versions = await self._answer(request, parse=True)
        items = [p for p in parts if isinstance(p, ItemResult)]
        return NegativesResponse(items=items, embedder=self.embedder.id, versions=versions)

    async def mine_json(self, request: NegativesRequest) -> bytes:
        """:meth:`mine` serialised; cached items are spliced in as stored, never re-parsed."""
        parts, versions = await self._answer(request)
        body = b",".join(p if isinstance(p, bytes) else p.model_dump_json().encode() for p in parts)
        tail = json.dumps({"embedder": self.embedder.id, "versions": versions}).encode()
        return b'{"items":[' + body + b"]," + tail[1:]

    async def _answer(
        self, request: NegativesRequest, parse: bool = False
    ) -> tuple[list[ItemResult | bytes], dict[str, str]]:
        """Per item, a computed result or the JSON of a cached one (with its id, cached=true);
        ``parse`` turns cached ones into models too, recomputing any that do not parse."""
        res = self.resolve(request.options())
        await self._refresh_data_versions()
        versions = self.versions()
        keys = [self._key(item, res, versions) for item in request.items]
        hits = await self.cache.get_many(keys)
        parts: list[ItemResult | bytes | None] = [
            (self._from_cache(item, raw) if parse else _splice(item.id, raw))
            if raw is not None and raw.startswith(STORED_PREFIX)
            else None
            for item, raw in zip(request.items, hits, strict=True)
        ]
        todo = [i for i, part in enumerate(parts) if part is None]
        metrics.record_cache(hits=len(parts) - len(todo), misses=len(todo))
        computed = await asyncio.gather(
            *(self._compute_cached(request.items[i], res, keys[i]) for i in todo)
        )
        for i, result in zip(todo, computed, strict=True):
            result.degraded = result.degraded or self.cache.degraded
            parts[i] = result
        return [part for part in parts if part is not None], versions

    async def _refresh_data_versions(self) -> None:
        """Miners whose data changes at run time (the false-positive table in a shared Redis)
        re-read their version at most once a second, so cached answers follow new rounds."""
        now = time.monotonic()
        if now - self._versions_read_at < DATA_VERSION_REFRESH_S:
            return
        self._versions_read_at = now
        for miner in self.registry.miners.values():
            refresh = getattr(miner, "data_version", None)
            if refresh is not None:
                try:
                    await refresh()
                except Exception as exc:  # the miner reports its own failure when it runs
                    log.warning("data version of %s unavailable: %s", miner.name, exc)

    def _key(self, item: RequestItem, res: Resolved, versions: dict[str, str]) -> str:
        uses_id = any(
            getattr(self.registry.miners.get(m), "uses_item_id", False) for m in res.miners
        )
        payload = {
            "positives": [normalize(p) for p in item.positives],
            "present": sorted({normalize(p) for p in item.present}),
            "exclude": sorted({normalize(p) for p in item.exclude}),
            "id": item.id if uses_id else "",
            "k": res.k,
            "band": [res.band.lo, res.band.hi],
            "miners": res.miners,
            "embedder": self.embedder.id,
            "versions": versions,
            "schema": CACHE_SCHEMA,
            "filter": [
                self.settings.dedupe_similarity,
                self.settings.mmr_lambda,
                self.settings.max_kind_share,
            ],
        }
        return cache_key("neg", payload)

    @staticmethod
    def _from_cache(item: RequestItem, raw: bytes | None) -> ItemResult | None:
        if raw is None or not raw.startswith(STORED_PREFIX):
            return None
        try:
            return ItemResult.model_validate_json(_splice(item.id, raw))
        except ValueError:
            return None  # an unreadable entry is recomputed, not served

    async def _compute_cached(self, item: RequestItem, res: Resolved, key: str) -> ItemResult:
        box: list[ItemResult] = []

        async def compute() -> bytes:
            async with self._item_slots:
                result = await self.compute_item(item, res)
            box.append(result)
            return result.model_dump_json(exclude={"id", "cached"}).encode()

        raw, stored = await self.cache.compute_once(key, compute, self.settings.cache_ttl_s)
        if not box:
            shared = self._from_cache(item, raw)
            if shared is not None:  # computed by a concurrent caller (here or in another process)
                shared.cached = False
                return shared
            raw, stored = await compute(), False  # the stored value was unreadable: replace it
        result = box[0]
        if result.degraded or not stored:
            ttl = DEGRADED_TTL_S if result.degraded else self.settings.cache_ttl_s
            await self.cache.set_many({key: raw}, ttl_s=ttl)
        return result

    async def compute_item(self, item: RequestItem, res: Resolved) -> ItemResult:
        """Mine, guard, filter and rank one item (no cache involved)."""
        statuses = {
            name: MinerStatus(status="disabled", error=why)
            for name, why in self.registry.disabled.items()
            if name in res.miners
        }
        active = [m for m in res.miners if m in self.registry.miners]
        outputs_task = asyncio.gather(
            *(self._run_miners(item, p, active, res.k) for p in item.positives)
        )
        related_task = self._related([*item.positives, *item.present, *item.exclude])
        per_positive, related = await asyncio.gather(outputs_task, related_task)
        guard = Guard.for_item(item.positives, item.present, item.exclude, self.knowledge, related)
        outputs: dict[str, list[tuple[MinerStatus, MinerOutput | None]]] = {}
        for by_name in per_positive:
            for name, run in by_name.items():
                outputs.setdefault(name, []).append(run)
        for name, runs in outputs.items():
            statuses[name] = _combine_status([s for s, _ in runs])
        candidates = [c for runs in outputs.values() for _, o in runs if o for c in o.candidates]
        exempt = frozenset(
            n for n, m in self.registry.miners.items() if getattr(m, "band_exempt", False)
        )
        ranker = Ranker(self.embedder, self.knowledge, self.settings, res.band, res.k, exempt)
        negatives = await ranker.rank(item, candidates, guard, statuses)
        notes = {n: o.note for n, runs in outputs.items() for _, o in runs if o and o.note}
        for name, note in notes.items():
            prior = statuses[name].note
            statuses[name].note = f"{note}; {prior}" if prior else note
        degraded = any(s.status in ("error", "timeout") for s in statuses.values())
        return ItemResult(
            id=item.id, negatives=negatives, miners=statuses, cached=False, degraded=degraded
        )

    async def _run_miners(
        self, item: RequestItem, positive: str, names: Sequence[str], k: int
    ) -> dict[str, tuple[MinerStatus, MinerOutput | None]]:
        query = MineQuery(
            positive=positive,
            present=list(item.present),
            exclude=list(item.exclude),
            item_id=item.id,
            k=max(k, self.settings.candidates_per_miner),
        )
        runs = await asyncio.gather(*(self._run_one(n, query) for n in names))
        return dict(zip(names, runs, strict=True))

    async def _run_one(self, name: str, query: MineQuery) -> tuple[MinerStatus, MinerOutput | None]:
        miner = self.registry.miners[name]
        timeout = float(getattr(miner, "timeout_s", None) or self.settings.miner_timeout_s)
        start = time.perf_counter()
        try:
            out = await asyncio.wait_for(miner.mine(query, self.ctx), timeout)
        except TimeoutError as exc:  # the miner's own timeout says more than ours, if it has one
            ms = (time.perf_counter() - start) * 1000
            metrics.record_miner(name, ms, "timeout")
            why = str(exc) or f"no answer within {timeout:g}s"
            return MinerStatus(status="timeout", ms=ms, error=why), None
        except Exception as exc:
            ms = (time.perf_counter() - start) * 1000
            log.warning("miner %s failed on %r: %s", name, query.positive, exc)
            metrics.record_miner(name, ms, "error")
            return MinerStatus(status="error", ms=ms, error=f"{type(exc).__name__}: {exc}"), None
        ms = (time.perf_counter() - start) * 1000
        metrics.record_miner(name, ms, "ok")
        return MinerStatus(status="ok", candidates=len(out.candidates), ms=ms), out

    async def _related(self, phrases: Sequence[str]) -> list[dict[str, Related]]:
        """Synonyms/ancestors known to miners (e.g. Wikidata); a failing source is skipped."""
        sources = self.registry.knowledge_sources()
        if not sources or not phrases:
            return []
        timeout = self.settings.miner_timeout_s
        got = await asyncio.gather(
            *(asyncio.wait_for(s.related(list(phrases), self.ctx), timeout) for s in sources),
            return_exceptions=True,
        )
        out: list[dict[str, Related]] = []
        for src, res in zip(sources, got, strict=True):
            if isinstance(res, BaseException):
                log.warning("knowledge from %s unavailable: %r", getattr(src, "name", src), res)
            else:
                out.append(res)
        return out

    async def readiness(self) -> dict[str, dict[str, Any]]:
        ok, detail = await self.cache.ping()
        parts: dict[str, dict[str, Any]] = {
            "cache": {"ok": ok, "backend": self.cache.name, "detail": detail},
            "embedder": {"ok": True, "id": self.embedder.id},
        }
        for name in self.registry.names:
            why = self.registry.disabled.get(name)
            parts[f"miner:{name}"] = {"ok": why is None, "detail": why or "enabled"}
        checks = [(n, m.check) for n, m in self.registry.miners.items() if hasattr(m, "check")]
        results = await asyncio.gather(
            *(asyncio.wait_for(check(), READY_CHECK_S) for _, check in checks),
            return_exceptions=True,
        )
        for (name, _), res in zip(checks, results, strict=True):
            ok, detail = (
                (False, f"check failed: {res!r}") if isinstance(res, BaseException) else res
            )
            parts[f"miner:{name}"] = {"ok": bool(ok), "detail": str(detail)}
        return parts

    async def aclose(self) -> None:
        await self.registry.aclose()
        await self.cache.aclose()


def _splice(item_id: str, stored: bytes) -> bytes:
    """A stored item (no id, no cached flag) as this request's item JSON."""
    return b'{"id":' + json.dumps(item_id).encode() + b',"cached":true,' + stored[1:]


def _combine_status(parts: list[MinerStatus]) -> MinerStatus:
    """One status per miner for an item with several positives: the worst wins."""
    order = {"ok": 0, "disabled": 1, "timeout": 2, "error": 3}
    worst = max(parts, key=lambda s: order[s.status])
    errors = [s.error for s in parts if s.error]
    return MinerStatus(
        status=worst.status,
        candidates=sum(s.candidates for s in parts),
        ms=round(max(s.ms for s in parts), 2),
        error=errors[0] if errors else None,
    )
