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
    Progress,
    Registry,
    Related,
    build_registry,
)
from hardneg.miners.errors import InvalidInput
from hardneg.miners.false_positive.store import FPStore, open_store
from hardneg.miners.knowledge import Guard, Knowledge, normalize
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
from hardneg.service.notes import combine_status, write_notes
from hardneg.service.rank import Band, Ranker
from hardneg.service.settings import Settings
from hardneg.service.similarity import CachedEmbedder, default_band, load_embedder

log = logging.getLogger(__name__)

CACHE_SCHEMA = 1  # bump when the stored item format changes
STORED_PREFIX = b'{"negatives":'  # how a cached item starts (model_dump_json without id/cached)
DEGRADED_MARK = b'"degraded":true'  # how a stored item says a miner failed in it
READY_CHECK_S = 3.0  # a miner's readiness probe (e.g. the LLM server's /v1/models)


class InvalidOptions(InvalidInput):
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
        fp_store: FPStore | None = None,
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.embedder = embedder
        self.knowledge = knowledge
        self.registry = registry
        self.ctx = ctx
        self.fp_store = fp_store  # the process's one false-positive store (miner and routes)
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
        fp_store = open_store(settings)
        ctx = MinerContext(
            settings=settings,
            embedder=cached,
            cache=cache,
            knowledge=knowledge,
            fp_store=fp_store,
        )
        registry = build_registry(ctx, allow=settings.miners, factories=factories)
        for name, why in registry.disabled.items():
            log.info("miner %s disabled: %s", name, why)
        return cls(settings, cache, cached, knowledge, registry, ctx, fp_store)

    async def warm_up(
        self, progress: Progress | None = None, names: Sequence[str] | None = None
    ) -> None:
        """Let miners (all, or ``names``) load indexes/data now rather than on first use."""
        for name, miner in self.registry.miners.items():
            if names is None or name in names:
                await miner.ready(progress)

    def versions(self) -> dict[str, str]:
        out = {f"miner:{k}": v for k, v in self.registry.versions().items()}
        out["knowledge"] = self.knowledge.snapshot_id
        for name, miner in sorted(self.registry.miners.items()):
            if miner.snapshot_id:
                out[f"data:{name}"] = str(miner.snapshot_id)
        return out

    def resolve(self, opts: MineOptions) -> Resolved:
        """Check miner names and fill defaults (k from HARDNEG_DEFAULT_K when the request leaves
        it unset); raises InvalidOptions before any work is done."""
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
        k = opts.k if opts.k is not None else self.settings.default_k
        return Resolved(k=k, band=band, miners=miners)

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
        """Miners whose data changes at run time (the false-positive table) bring their version
        up to date, so cached answers follow new rounds (their stores bound how often they read)."""
        for miner in self.registry.miners.values():
            try:
                await miner.data_version()
            except Exception as exc:  # the miner reports its own failure when it runs
                log.warning("data version of %s unavailable: %s", miner.name, exc)

    def _key(self, item: RequestItem, res: Resolved, versions: dict[str, str]) -> str:
        uses_id = any(
            self.registry.miners[m].traits.uses_item_id
            for m in res.miners
            if m in self.registry.miners
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

    def _ttl_for(self, stored: bytes) -> int:
        """The cache layer asks this when it stores an answer: a degraded one lives briefly, so
        the failing miner is asked again soon."""
        s = self.settings
        return s.degraded_ttl_s if DEGRADED_MARK in stored else s.cache_ttl_s

    async def _compute_cached(self, item: RequestItem, res: Resolved, key: str) -> ItemResult:
        box: list[ItemResult] = []

        async def compute() -> bytes:
            async with self._item_slots:
                result = await self.compute_item(item, res)
            box.append(result)
            return result.model_dump_json(exclude={"id", "cached"}).encode()

        raw, _ = await self.cache.compute_once(key, compute, ttl_for=self._ttl_for)
        if box:
            return box[0]
        shared = self._from_cache(item, raw)
        if shared is not None:  # computed by a concurrent caller (here or in another process)
            shared.cached = False
            return shared
        raw = await compute()  # the stored value was unreadable: replace it
        await self.cache.set_many({key: raw}, ttl_s=self._ttl_for(raw))
        return box[0]

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
            statuses[name] = combine_status([s for s, _ in runs])
        candidates = [c for runs in outputs.values() for _, o in runs if o for c in o.candidates]
        exempt = frozenset(n for n, m in self.registry.miners.items() if m.traits.band_exempt)
        ranker = Ranker(self.embedder, self.knowledge, self.settings, res.band, res.k, exempt)
        negatives, report = await ranker.rank(item, candidates, guard)
        own = {n: [o.note for _, o in runs if o and o.note] for n, runs in outputs.items()}
        write_notes(statuses, own, report, negatives, res.k, res.band)
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
        timeout = float(miner.traits.timeout_s or self.settings.miner_timeout_s)
        start = time.perf_counter()
        try:
            out = await asyncio.wait_for(miner.mine(query, self.ctx), timeout)
        except TimeoutError as exc:  # MinerTimeout included: the miner's own message says more
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
            *(asyncio.wait_for(s.related(list(phrases), self.ctx), timeout) for _, s in sources),
            return_exceptions=True,
        )
        out: list[dict[str, Related]] = []
        for (name, _), res in zip(sources, got, strict=True):
            if isinstance(res, BaseException):
                log.warning("knowledge from %s unavailable: %r", name, res)
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
        names = list(self.registry.miners)
        results = await asyncio.gather(
            *(asyncio.wait_for(self.registry.miners[n].check(), READY_CHECK_S) for n in names),
            return_exceptions=True,
        )
        for name, res in zip(names, results, strict=True):
            if res is None:
                continue  # nothing to ask: enabled is all there is to say
            ok, detail = (
                (False, f"check failed: {res!r}") if isinstance(res, BaseException) else res
            )
            parts[f"miner:{name}"] = {"ok": bool(ok), "detail": str(detail)}
        return parts

    async def aclose(self) -> None:
        await self.registry.aclose()
        if self.fp_store is not None:
            await self.fp_store.aclose()
        await self.cache.aclose()


def _splice(item_id: str, stored: bytes) -> bytes:
    """A stored item (no id, no cached flag) as this request's item JSON."""
    return b'{"id":' + json.dumps(item_id).encode() + b',"cached":true,' + stored[1:]
