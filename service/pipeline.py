"""The one orchestrator: cache lookup -> mine each distinct positive -> cache -> assemble items.

Routes, the CLI and batch jobs all call :meth:`Pipeline.mine`; nothing else re-implements the flow.
Cost follows distinct positives, not items: a positive is mined once (miners, its guard, ranking;
``service/mining.py``) and cached; every item is then assembled from its positives' results with
its own present concepts, exclusions and item steps (``service/assemble.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from hardneg.miners.base import (
    MinerContext,
    MinerFactory,
    Progress,
    Registry,
    Related,
    build_registry,
)
from hardneg.miners.false_positive.miner import FalsePositiveMiner
from hardneg.miners.false_positive.store import FPStore, open_store
from hardneg.miners.knowledge import Knowledge, normalize
from hardneg.miners.types import (
    ItemResult,
    MineOptions,
    MinerStatus,
    NegativesRequest,
    NegativesResponse,
    RequestItem,
)
from hardneg.miners.verify import VerifyStore, open_verify_store
from hardneg.service import metrics
from hardneg.service.admission import Admission, Lane
from hardneg.service.assemble import Assembler, PositiveResult, is_bare
from hardneg.service.cache import Cache, cache_key, make_cache
from hardneg.service.fp_step import FalsePositiveImageStep
from hardneg.service.images import StepStores, image_steps
from hardneg.service.mining import PositiveMiner, Resolved
from hardneg.service.options import InvalidOptions, UnknownMiner, resolve_options
from hardneg.service.readiness import readiness
from hardneg.service.scoring import ranking_version
from hardneg.service.settings import Settings
from hardneg.service.similarity import CachedEmbedder, load_embedder
from hardneg.service.steps import ItemStep, preflight
from hardneg.service.stored import (
    CACHE_SCHEMA,
    Plan,
    from_store,
    item_payload,
    positive_of,
    positive_record,
    readable,
)
from hardneg.service.verdicts import VerdictStore, open_verdict_store, verdict_steps

log = logging.getLogger(__name__)

__all__ = ["InvalidOptions", "Pipeline", "UnknownMiner"]

RELATED_SLICE = 32  # phrases per knowledge lookup when a request's items are assembled


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
        steps: Sequence[ItemStep] = (),
        verdict_store: VerdictStore | None = None,
    ) -> None:
        self.settings = settings
        self.cache = cache
        self.embedder = embedder
        self.knowledge = knowledge
        self.registry = registry
        self.ctx = ctx
        self.fp_store = fp_store  # the process's one false-positive store (miner and routes)
        self.steps: list[ItemStep] = list(steps)  # general steps: every request, in this order
        self.verify_store: VerifyStore | None = None  # detector rounds (image steps and routes)
        self.verdict_store = verdict_store  # the process's one (its steps' and the routes')
        self.mining = PositiveMiner(settings, registry, ctx, knowledge, embedder)
        # steps owned by a miner run only when the request selects that miner
        self.miner_steps: dict[str, list[ItemStep]] = {}
        fp = registry.miners.get("false_positive")
        if isinstance(fp, FalsePositiveMiner):
            self.miner_steps["false_positive"] = [FalsePositiveImageStep(fp, embedder)]
        # Work is admitted by positives to mine, in lanes (service/admission.py); a positive is
        # mined in one of its lane's slots, so miner timeouts measure a miner, not a queue.
        self.admission = Admission.from_settings(settings)

    @classmethod
    def create(
        cls,
        settings: Settings | None = None,
        *,
        cache: Cache | None = None,
        embedder: Any = None,
        factories: dict[str, MinerFactory] | None = None,
        steps: Sequence[ItemStep] | None = None,
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
        verify_store = open_verify_store(settings)
        verdicts = open_verdict_store(settings)  # human verdicts: the routes share this store
        if steps is None:  # images, detector rounds, online verifier (service/images); verdicts
            steps = [
                *image_steps(settings, cached, StepStores(cache, verify_store)),
                *verdict_steps(settings, verdicts),
            ]
        pipe = cls(settings, cache, cached, knowledge, registry, ctx, fp_store, steps, verdicts)
        pipe.verify_store = verify_store
        return pipe

    async def warm_up(
        self, progress: Progress | None = None, names: Sequence[str] | None = None
    ) -> None:
        """Let miners (all, or ``names``) load indexes/data now rather than on first use."""
        for name, miner in self.registry.miners.items():
            if names is None or name in names:
                await miner.ready(progress)
        if self.verdict_store is not None:
            await self.verdict_store.warm_up()

    def versions(self) -> dict[str, str]:
        out = {f"miner:{k}": v for k, v in self.registry.versions().items()}
        out["knowledge"] = self.knowledge.snapshot_id
        out["ranking"] = ranking_version(self.embedder.id)
        for name, miner in sorted(self.registry.miners.items()):
            if miner.snapshot_id:
                out[f"data:{name}"] = str(miner.snapshot_id)
        return out

    def resolve(self, opts: MineOptions) -> Resolved:
        """Check miner names and fill defaults (``service/options.py``); raises InvalidOptions
        before any work is done."""
        return resolve_options(opts, self.settings, self.registry.names, self.embedder.id)

    async def mine(self, request: NegativesRequest) -> NegativesResponse:
        """Answer a whole request: one cache round trip, then mine the missing positives."""
        parts, versions = await self._answer(request, parse=True)
        items = [p for p in parts if isinstance(p, ItemResult)]
        return NegativesResponse(items=items, embedder=self.embedder.id, versions=versions)

    async def mine_json(self, request: NegativesRequest) -> bytes:
        """:meth:`mine` serialised; cached bare items are spliced in as stored, never re-parsed."""
        parts, versions = await self._answer(request)
        body = b",".join(p if isinstance(p, bytes) else p.model_dump_json().encode() for p in parts)
        tail = json.dumps({"embedder": self.embedder.id, "versions": versions}).encode()
        return b'{"items":[' + body + b"]," + tail[1:]

    async def _answer(
        self, request: NegativesRequest, parse: bool = False
    ) -> tuple[list[ItemResult | bytes], dict[str, str]]:
        """Per item, its cached answer as stored (``parse`` turns it into a model), or an answer
        assembled from its positives' results, each distinct positive mined once."""
        res = self.resolve(request.options())
        await preflight(self._steps(res), request.items)  # a bad image: 422 before any work
        await self._refresh_data_versions()
        versions = self.versions()
        plan = self._plan(request.items, res, versions)
        lookup = list(dict.fromkeys(k for k in plan.answer_keys if k))
        stored = dict(zip(lookup, await self.cache.get_many(lookup), strict=True))
        answers: list[ItemResult | bytes | None] = [
            from_store(item, stored.get(key) if key else None, parse)
            for item, key in zip(request.items, plan.answer_keys, strict=True)
        ]
        todo = [i for i, a in enumerate(answers) if a is None]
        metrics.record_cache(hits=len(answers) - len(todo))  # the others where they are built
        if todo:
            built = await self._build(request.items, todo, plan, stored)
            answers = [built.get(i, a) for i, a in enumerate(answers)]
        return [a for a in answers if a is not None], versions

    def _plan(self, items: Sequence[RequestItem], res: Resolved, versions: dict[str, str]) -> Plan:
        """The cache keys of a request: each item's answer and each positive's result."""
        by_id = self.mining.uses_item_id(res.miners)
        assembler = self._assembler(res)
        plan = Plan(res, assembler)
        for item in items:
            item_id = item.id if by_id else ""
            keys = [
                self._key("pos", {"positive": normalize(p), "id": item_id}, res, versions)
                for p in item.positives
            ]
            plan.positive_keys.append(keys)
            plan.positive_of.update(zip(keys, ((p, item_id) for p in item.positives), strict=True))
            if assembler.steps_apply(item):
                plan.answer_keys.append(None)  # assembled on every request
            elif is_bare(item):
                plan.answer_keys.append(keys[0])  # a positive's result holds the bare answer
            else:
                plan.answer_keys.append(
                    self._key("neg", item_payload(item, item_id), res, versions)
                )
        return plan

    async def _build(
        self,
        items: Sequence[RequestItem],
        todo: list[int],
        plan: Plan,
        stored: dict[str, bytes | None],
    ) -> dict[int, ItemResult]:
        """Assemble the ``todo`` items from their positives' results (looked up in one more
        round trip, or mined once each) and store the answers of items with no steps."""
        wanted = dict.fromkeys(k for i in todo for k in plan.positive_keys[i])
        have: dict[str, bytes] = {}
        for k in wanted:
            raw = stored.get(k)
            if raw is not None and readable(raw):
                have[k] = raw
        need = [k for k in wanted if k not in have]
        if need:
            looked_up = dict(zip(need, await self.cache.get_many(need), strict=True))
            have.update({k: v for k, v in looked_up.items() if v is not None and readable(v)})
        mine = {k: plan.positive_of[k] for k in need if k not in have}
        here = await self._mine_missing(mine, plan, have) if mine else set()
        built: dict[int, ItemResult] = {}
        answers: dict[str, tuple[bytes, int | None]] = {}
        related = await self._related([items[i] for i in todo])
        for i in todo:
            keys = plan.positive_keys[i]
            raws = [have[k] for k in keys]
            result = await self._assemble(items[i], raws, plan.assembler, related)
            result.cached = not any(k in mine for k in keys)
            _count(keys, mine, here)
            built[i] = result
            key = plan.answer_keys[i]
            if key is not None and key not in plan.positive_of:
                raw = result.model_dump_json(exclude={"id", "cached"}).encode()
                answers[key] = raw, self._ttl_of(result.miners, result.degraded, plan.res)
        for key, (raw, ttl) in answers.items():
            if ttl is not None:
                await self.cache.set_many({key: raw}, ttl_s=ttl)
        return built

    async def _mine_missing(
        self, mine: dict[str, tuple[str, str]], plan: Plan, have: dict[str, bytes]
    ) -> set[str]:
        """Mine the positives no cache had, admitted as one unit of work in their lane (or
        Overloaded: 429), into ``have``; returns the keys this request computed itself (the
        others a concurrent identical computation did)."""
        arrival = time.monotonic()
        async with self.admission.admit(len(mine)) as lane:
            mined = await asyncio.gather(
                *(
                    self._mine_cached(p, i, plan.res, k, plan.assembler, lane, arrival)
                    for k, (p, i) in mine.items()
                )
            )
        have.update((k, raw) for k, (raw, _) in zip(mine, mined, strict=True))
        return {k for k, (_, computed) in zip(mine, mined, strict=True) if computed}

    async def _related(self, items: Sequence[RequestItem]) -> list[dict[str, Related]]:
        """Miners' knowledge of every phrase the request's non-bare items show or exclude, asked
        once per phrase for the request (a batch's items share their concepts), in slices of
        RELATED_SLICE phrases so each call's timeout covers about an item's worth, as before."""
        phrases = list(dict.fromkeys(p for it in items if not is_bare(it) for p in _shown(it)))
        out: list[dict[str, Related]] = []
        for start in range(0, len(phrases), RELATED_SLICE):
            out += await self.mining.related(phrases[start : start + RELATED_SLICE])
        return out

    async def _assemble(
        self,
        item: RequestItem,
        raws: list[bytes],
        assembler: Assembler,
        known: Sequence[dict[str, Related]],
    ) -> ItemResult:
        """One item from its positives' stored results, with its own guard and steps."""
        related: list[dict[str, Related]] = []
        if not is_bare(item):
            shown = _shown(item)
            related = [got for src in known if (got := {p: src[p] for p in shown if p in src})]
        result = await assembler.item(item, [positive_of(raw) for raw in raws], related)
        result.degraded = result.degraded or self.cache.degraded
        return result

    async def _refresh_data_versions(self) -> None:
        """Miners whose data changes at run time (the false-positive table) bring their version
        up to date, so cached answers follow new rounds (their stores bound how often they read)."""
        for miner in self.registry.miners.values():
            try:
                await miner.data_version()
            except Exception as exc:  # the miner reports its own failure when it runs
                log.warning("data version of %s unavailable: %s", miner.name, exc)

    def _key(
        self, namespace: str, what: dict[str, Any], res: Resolved, versions: dict[str, str]
    ) -> str:
        """Cache key of a positive's result ("pos") or an item's answer ("neg"): ``what`` plus
        everything else the result depends on."""
        payload = {
            **what,
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
        return cache_key(namespace, payload)

    def _steps(self, res: Resolved) -> list[ItemStep]:
        owned = [step for m in res.miners for step in self.miner_steps.get(m, ())]
        return [*owned, *self.steps]

    def _assembler(self, res: Resolved) -> Assembler:
        steps = self._steps(res)
        return Assembler(
            self.embedder, self.knowledge, res.band, res.k, self.settings.max_kind_share, steps
        )

    def _ttl_of(
        self, statuses: dict[str, MinerStatus], degraded: bool, res: Resolved
    ) -> int | None:
        """The TTL a result is stored with: None (not stored at all) when every miner that ran
        failed or timed out, since that is a failure, not a result; a degraded one lives
        ``degraded_ttl_s``, so the failing miner is asked again soon."""
        ran = [s.status for n, s in statuses.items() if n in res.miners and s.status != "disabled"]
        if ran and all(status in ("error", "timeout") for status in ran):
            return None
        s = self.settings
        return s.degraded_ttl_s if degraded else s.cache_ttl_s

    def _deadline(self, lane: Lane, arrival: float) -> float:
        """When a positive's miners must have answered: interactive requests within the
        deadline of their arrival; a bulk request's positives each within it of starting (a
        large batch takes longer than the deadline as a whole, by design)."""
        start = arrival if lane is self.admission.interactive else time.monotonic()
        return start + self.settings.request_deadline_s

    async def _mine_cached(
        self,
        positive: str,
        item_id: str,
        res: Resolved,
        key: str,
        assembler: Assembler,
        lane: Lane,
        arrival: float,
    ) -> tuple[bytes, bool]:
        """The stored form of a mined positive, computed once however many callers ask (in this
        process or, through the cache's lock, in others); True when this caller computed it."""
        box: list[PositiveResult] = []

        async def compute() -> bytes:
            async with lane.slot():
                deadline = self._deadline(lane, arrival)
                result = await self.mining.mine(positive, item_id, res, deadline)
            box.append(result)
            return positive_record(assembler.bare(result), result)

        def ttl_for(_: bytes) -> int | None:
            return self._ttl_of(box[0].miners, box[0].degraded, res)

        raw, _ = await self.cache.compute_once(key, compute, ttl_for=ttl_for)
        if not readable(raw):  # an unreadable stored value is replaced, not served
            raw = await compute()
            ttl = ttl_for(raw)
            if ttl is not None:
                await self.cache.set_many({key: raw}, ttl_s=ttl)
        return raw, bool(box)

    async def readiness(self) -> dict[str, dict[str, Any]]:
        """Per component: ok and why (``service/readiness.py``)."""
        return await readiness(self.cache, self.embedder.id, self.registry)

    async def aclose(self) -> None:
        for step in self.steps:
            await step.aclose()
        await self.registry.aclose()
        if self.fp_store is not None:
            await self.fp_store.aclose()
        if self.verify_store is not None:
            await self.verify_store.aclose()
        if self.verdict_store is not None:
            await self.verdict_store.aclose()
        await self.cache.aclose()


def _shown(item: RequestItem) -> list[str]:
    return [*item.positives, *item.present, *item.exclude]


def _count(keys: Sequence[str], mined: dict[str, Any], here: set[str]) -> None:
    """Count one built item: a miss when this request mined one of its positives, coalesced
    when another caller's identical computation did, else a hit (its positives were cached)."""
    if any(k in here for k in keys):
        metrics.record_cache(misses=1)
    elif any(k in mined for k in keys):
        metrics.record_cache(coalesced=1)
    else:
        metrics.record_cache(hits=1)
