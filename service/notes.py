"""Per-miner statuses and notes of one item: why an answer is short, written in one place.

The pipeline calls :func:`write_notes` with what the miners said themselves and what the ranker
counted (:class:`~hardneg.service.rank.RankReport`); nothing else writes a miner's note.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from hardneg.miners.types import MinerStatus, Negative
from hardneg.service.rank import Band, RankReport

_SEVERITY = {"ok": 0, "disabled": 1, "timeout": 2, "error": 3}


def combine_status(parts: list[MinerStatus]) -> MinerStatus:
    """One status per miner for an item with several positives: the worst wins."""
    worst = max(parts, key=lambda s: _SEVERITY[s.status])
    errors = [s.error for s in parts if s.error]
    return MinerStatus(
        status=worst.status,
        candidates=sum(s.candidates for s in parts),
        ms=round(max(s.ms for s in parts), 2),
        error=errors[0] if errors else None,
    )


def write_notes(
    statuses: dict[str, MinerStatus],
    own: Mapping[str, Sequence[str]],
    report: RankReport,
    negatives: Sequence[Negative],
    k: int,
    band: Band,
) -> None:
    """Each miner's note: its own words first, then how many of its candidates were guarded,
    filtered and returned (for miners that answered), and why fewer than k came back."""
    returned: Counter[str] = Counter()
    for neg in negatives:
        returned.update(neg.sources)
    for name, status in statuses.items():
        parts = list(dict.fromkeys(own.get(name, ())))
        if status.status == "ok":
            parts.append(_counts(name, report, returned, len(negatives), k, band))
        if parts:
            status.note = "; ".join(parts)


def _counts(
    name: str, report: RankReport, returned: Counter[str], total: int, k: int, band: Band
) -> str:
    n, guarded = report.proposed[name], report.guarded[name]
    note = "; ".join(
        [
            f"{n} distinct proposed",
            f"{guarded} blocked by the exclusion guard",
            f"{n - guarded - returned[name]} removed by similarity filter/ranking",
            f"{returned[name]} returned",
        ]
    )
    if total < k:
        drops = report.drops
        filt = ", ".join(f"{v} {r.replace('_', ' ')}" for r, v in sorted(drops.items()) if v)
        if band.lo > -1.0:
            note += f" (fewer than k={k}; band [{band.lo:.2f}, {band.hi:.2f}]"
        else:
            note += f" (fewer than k={k}; ranked by the scoring model, similarity <= {band.hi:.2f}"
        note += f"; filter: {filt})" if filt else ")"
    return note
