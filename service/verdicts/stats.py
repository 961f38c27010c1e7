"""Acceptance rates from verdict counts (``GET /v1/stats`` and ``/metrics``) and the
features-ready export row (``GET /v1/verdicts/export``, ``hardneg verdicts export``).

Acceptance = absent / (absent + present + not_similar + implausible): the share of judged
negatives that annotators kept; ``unsure`` is counted but left out of the rate.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from prometheus_client import Gauge
from pydantic import BaseModel, Field

from hardneg.miners.verdicts import BAD_VERDICTS, StoredVerdict, VerdictKind
from hardneg.service.verdicts.store import VerdictStats, VerdictStore

__all__ = [
    "Acceptance",
    "StatsResponse",
    "acceptance_report",
    "export_lines",
    "features_row",
    "label_of",
    "refresh_verdict_metrics",
]

log = logging.getLogger(__name__)

VERDICTS = Gauge(
    "hardneg_verdicts",
    "Stored verdicts by verdict, miner (or all) and kind (or all)",
    ["verdict", "miner", "kind"],
)
ACCEPTANCE = Gauge(
    "hardneg_verdict_acceptance",
    "Share of judged negatives annotators kept (absent), per miner and per kind",
    ["miner", "kind"],
)


class Acceptance(BaseModel):
    counts: dict[str, int] = Field(description="Verdict -> stored verdicts.")
    judged: int = Field(description="Verdicts other than unsure.")
    acceptance: float | None = Field(description="absent / judged; null when none judged.")


class VerdictsSummary(BaseModel):
    total: Acceptance
    by_miner: dict[str, Acceptance]
    by_kind: dict[str, Acceptance]


class StatsResponse(BaseModel):
    verdicts: VerdictsSummary


def _acceptance(counts: dict[str, int]) -> Acceptance:
    absent = counts.get(VerdictKind.absent.value, 0)
    judged = absent + sum(counts.get(v.value, 0) for v in BAD_VERDICTS)
    rate = round(absent / judged, 4) if judged else None
    return Acceptance(counts=dict(sorted(counts.items())), judged=judged, acceptance=rate)


def acceptance_report(stats: VerdictStats) -> StatsResponse:
    summary = VerdictsSummary(
        total=_acceptance(stats.by_verdict),
        by_miner={m: _acceptance(c) for m, c in sorted(stats.by_miner.items())},
        by_kind={k: _acceptance(c) for k, c in sorted(stats.by_kind.items())},
    )
    return StatsResponse(verdicts=summary)


def export_metrics(report: StatsResponse) -> None:
    """Set the gauges from the store's counts (at scrape time: the store is the truth, shared
    by every worker, and survives restarts where a process counter would not)."""
    s = report.verdicts
    rows = [("all", "all", s.total)]
    rows += [(m, "all", a) for m, a in s.by_miner.items()]
    rows += [("all", k, a) for k, a in s.by_kind.items()]
    for miner, kind, acc in rows:
        for verdict, n in acc.counts.items():
            VERDICTS.labels(verdict, miner, kind).set(n)
        if acc.acceptance is not None:
            ACCEPTANCE.labels(miner, kind).set(acc.acceptance)


def label_of(verdict: VerdictKind) -> int | None:
    """Training label: 1 a good negative (absent), 0 a rejected one, None unsure."""
    if verdict is VerdictKind.absent:
        return 1
    return 0 if verdict in BAD_VERDICTS else None


def features_row(v: StoredVerdict) -> dict[str, Any]:
    """One export line: what a verifier or the ranking's refit reads (see docs/annotation.md)."""
    return {
        "positive": v.positive,
        "phrase": v.negative,
        "verdict": v.verdict.value,
        "label": label_of(v.verdict),
        "sources": v.sources,
        "kind": v.kind.value if v.kind else None,
        "score": v.score,
        "item_id": v.item_id,
        "id": v.id,
        "annotator": v.annotator,
        "source": v.source,
        "received_at": v.received_at,
        "seq": v.seq,
    }


async def refresh_verdict_metrics(store: VerdictStore | None) -> None:
    """Before a scrape: the verdict gauges from the store; a store that is down leaves the last
    values (metrics must not fail because a store does)."""
    if store is None:
        return
    try:
        export_metrics(acceptance_report(await store.stats()))
    except Exception as exc:
        log.warning("verdict metrics unavailable: %s", exc)


EXPORT_PAGE = 1000


async def export_lines(store: VerdictStore, since: int) -> AsyncIterator[bytes]:
    """Every verdict after ``since`` as features-ready JSONL, page by page."""
    while True:
        page = await store.export(since, EXPORT_PAGE)
        if not page:
            return
        yield b"".join(json.dumps(features_row(v)).encode() + b"\n" for v in page)
        since = page[-1].seq
