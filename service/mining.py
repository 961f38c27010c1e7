"""Mining one positive: every selected miner concurrently (each with its own timeout), the guard
for the positive's own relatives, then ranking. The result does not depend on any item, so the
pipeline caches it per (positive, options, versions) and assembles items from it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from hardneg.miners.base import MineQuery, MinerContext, MinerOutput, Registry, Related
from hardneg.miners.knowledge import Guard, Knowledge
from hardneg.miners.types import MinerStatus
from hardneg.service import metrics
from hardneg.service.assemble import PositiveResult
from hardneg.service.rank import Band, Ranker
from hardneg.service.settings import Settings
from hardneg.service.similarity import CachedEmbedder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resolved:
    """Request options resolved against settings and the embedder's calibrated band."""

    k: int
    band: Band
    miners: list[str]


@dataclass
class PositiveMiner:
    """Runs the miners for one positive and ranks their candidates."""

    settings: Settings
    registry: Registry
    ctx: MinerContext
    knowledge: Knowledge
    embedder: CachedEmbedder

    async def mine(
        self, positive: str, item_id: str, res: Resolved, deadline: float | None = None
    ) -> PositiveResult:
        """Mine, guard and rank ``positive`` (``item_id`` only reaches miners that use it).
        Miners still running at ``deadline`` (a ``time.monotonic()`` instant) are cut off and
        reported ``timeout``."""
        statuses = {
            name: MinerStatus(status="disabled", error=why)
            for name, why in self.registry.disabled.items()
            if name in res.miners
        }
        active = [m for m in res.miners if m in self.registry.miners]
        runs, related = await asyncio.gather(
            self._run_miners(positive, item_id, active, res.k, deadline),
            self.related([positive], deadline),
        )
        for name, (status, out) in runs.items():
            status.note = out.note if out is not None else None
            statuses[name] = status
        candidates = [c for _, out in runs.values() if out for c in out.candidates]
        guard = Guard.for_item([positive], [], [], self.knowledge, related)
        exempt = frozenset(n for n, m in self.registry.miners.items() if m.traits.band_exempt)
        ranker = Ranker(self.embedder, self.knowledge, self.settings, res.band, res.k, exempt)
        negatives, report = await ranker.rank(positive, candidates, guard)
        return PositiveResult(
            positive=positive,
            negatives=negatives,
            miners=statuses,
            proposed=dict(report.proposed),
            guarded=dict(report.guarded),
            drops=dict(report.drops),
            degraded=any(s.status in ("error", "timeout") for s in statuses.values()),
        )

    def uses_item_id(self, miners: Sequence[str]) -> bool:
        """Whether any of these miners answers differently per item id (then it keys results)."""
        return any(
            self.registry.miners[m].traits.uses_item_id for m in miners if m in self.registry.miners
        )

    async def _run_miners(
        self,
        positive: str,
        item_id: str,
        names: Sequence[str],
        k: int,
        deadline: float | None = None,
    ) -> dict[str, tuple[MinerStatus, MinerOutput | None]]:
        query = MineQuery(
            positive=positive, item_id=item_id, k=max(k, self.settings.candidates_per_miner)
        )
        runs = await asyncio.gather(*(self._run_one(n, query, deadline) for n in names))
        return dict(zip(names, runs, strict=True))

    async def _run_one(
        self, name: str, query: MineQuery, deadline: float | None = None
    ) -> tuple[MinerStatus, MinerOutput | None]:
        miner = self.registry.miners[name]
        timeout = float(miner.traits.timeout_s or self.settings.miner_timeout_s)
        start = time.perf_counter()
        left = timeout
        try:
            # Loading a miner's data (an index built on first use) is not mining: it is awaited
            # outside the timeout; warm_up() at start-up normally did it already.
            await miner.ready()
            start = time.perf_counter()
            left = timeout if deadline is None else min(timeout, deadline - time.monotonic())
            out = await asyncio.wait_for(miner.mine(query, self.ctx), max(left, 0.0))
        except TimeoutError as exc:  # MinerTimeout included: the miner's own message says more
            ms = (time.perf_counter() - start) * 1000
            metrics.record_miner(name, ms, "timeout")
            why = str(exc) or (
                f"no answer within {timeout:g}s"
                if left >= timeout
                else "request deadline reached"
                f" (HARDNEG_REQUEST_DEADLINE_S={self.settings.request_deadline_s:g})"
            )
            return MinerStatus(status="timeout", ms=ms, error=why), None
        except Exception as exc:
            ms = (time.perf_counter() - start) * 1000
            log.warning("miner %s failed on %r: %s", name, query.positive, exc)
            metrics.record_miner(name, ms, "error")
            return MinerStatus(status="error", ms=ms, error=f"{type(exc).__name__}: {exc}"), None
        ms = (time.perf_counter() - start) * 1000
        metrics.record_miner(name, ms, "ok")
        return MinerStatus(status="ok", candidates=len(out.candidates), ms=round(ms, 2)), out

    async def related(
        self, phrases: Sequence[str], deadline: float | None = None
    ) -> list[dict[str, Related]]:
        """Synonyms/ancestors known to miners (e.g. Wikidata); a failing source is skipped."""
        sources = self.registry.knowledge_sources()
        if not sources or not phrases:
            return []
        timeout = self.settings.miner_timeout_s
        if deadline is not None:
            timeout = max(0.0, min(timeout, deadline - time.monotonic()))
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
