"""Verdicts fed back into mining, as item steps (``service/steps.py``) that run after the cache on
every request, so cached answers follow new verdicts at once.

- :class:`PresentOnItemStep`: a negative judged ``present`` on an item never comes back for it.
- :class:`PositiveVerdictStep`: for a positive, a negative rejected by more distinct items than
  confirmed it (by ``verdict_demote_items``) is demoted to the last place of the answer, by
  ``verdict_drop_items`` dropped, for every item; one confirmed (``absent``) by that many more
  is raised ahead of the unjudged ones. Each negative with verdicts carries them in
  ``evidence["verdicts"]``.

A failing store degrades the step (status ``error``, negatives unchanged); it never fails mining.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from hardneg.miners.knowledge.normalize import match_key
from hardneg.miners.types import MinerStatus, Negative, RequestItem
from hardneg.miners.verdicts import VerdictCounts
from hardneg.service.steps import ItemStep, StepInput, StepOutput
from hardneg.service.verdicts.index import VerdictIndex
from hardneg.service.verdicts.settings import VerdictSettings
from hardneg.service.verdicts.store import VerdictStore

__all__ = ["PositiveVerdictStep", "PresentOnItemStep", "verdict_steps"]

log = logging.getLogger(__name__)


class _Timer:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def ms(self) -> float:
        return (time.perf_counter() - self.start) * 1000


@contextmanager
def _guarded(name: str, inp: StepInput, box: list[StepOutput]) -> Iterator[_Timer]:
    """Run a step's body; a store failure leaves the negatives as they were, status error."""
    timer = _Timer()
    try:
        yield timer
    except Exception as exc:
        log.warning("verdict step %s failed for %r: %s", name, inp.positive, exc)
        status = MinerStatus(status="error", ms=timer.ms, error=f"{type(exc).__name__}: {exc}")
        box[:] = [StepOutput(negatives=inp.negatives, status=status)]


class PresentOnItemStep:
    """Drops the negatives judged present on this item (by any annotator, for any positive)."""

    name = "verdicts_item"

    def __init__(self, store: VerdictStore, index: VerdictIndex | None = None) -> None:
        self.store = store
        self.index = index

    def applies(self, item: RequestItem) -> bool:
        if not item.id:
            return False  # verdicts are kept per item id: an anonymous item has none
        return self.index is None or self.index.has_present(item.id)

    async def apply(self, inp: StepInput) -> StepOutput:
        box: list[StepOutput] = []
        with _guarded(self.name, inp, box) as timer:
            present = await self.store.present_on_item(inp.item.id)
            kept = [n for n in inp.negatives if match_key(n.phrase) not in present]
            dropped = len(inp.negatives) - len(kept)
            note = f"{dropped} judged present on this item" if dropped else None
            status = MinerStatus(status="ok", candidates=dropped, ms=timer.ms, note=note)
            box.append(StepOutput(negatives=kept, status=status))
        return box[0]

    async def aclose(self) -> None:
        return None


class PositiveVerdictStep:
    """Re-orders a positive's negatives by what annotators said about them on other items."""

    name = "verdicts_positive"

    def __init__(
        self,
        store: VerdictStore,
        demote_items: int,
        drop_items: int,
        index: VerdictIndex | None = None,
    ) -> None:
        self.store = store
        self.demote_items = demote_items
        self.drop_items = max(drop_items, demote_items)
        self.index = index

    def applies(self, item: RequestItem) -> bool:
        return self.index is None or self.index.has_positive(item.positives)

    def tier(self, counts: VerdictCounts) -> int:
        """0 raised, 1 as ranked, 2 demoted, 3 dropped."""
        net = counts.net_bad
        if net >= self.drop_items:
            return 3
        if net >= self.demote_items:
            return 2
        return 0 if -net >= self.demote_items else 1

    async def apply(self, inp: StepInput) -> StepOutput:
        box: list[StepOutput] = []
        with _guarded(self.name, inp, box) as timer:
            counts = await self.store.counts(inp.positive, [n.phrase for n in inp.negatives])
            ranked, moved = _reorder(inp.negatives, counts, self.tier, inp.k)
            note = _describe(moved) or None
            status = MinerStatus(status="ok", candidates=len(counts), ms=timer.ms, note=note)
            box.append(StepOutput(negatives=ranked, status=status))
        return box[0]

    async def aclose(self) -> None:
        return None


_ACTIONS = ("raised", "kept", "demoted", "dropped")


def _reorder(
    negatives: list[Negative],
    counts: dict[str, VerdictCounts],
    tier: Callable[[VerdictCounts], int],
    k: int,
) -> tuple[list[Negative], dict[str, int]]:
    """Raised ones first, then the rest as ranked; a demoted one goes to the last place of the
    answer (position k; lower if it ranked lower), so it still shows but below every unjudged
    one that made the answer; dropped ones go. Negatives with verdicts carry them as evidence."""
    out: list[Negative] = []
    raised: list[Negative] = []
    demoted: list[tuple[int, Negative]] = []
    moved = dict.fromkeys(_ACTIONS, 0)
    for i, neg in enumerate(negatives):
        c = counts.get(match_key(neg.phrase))
        if c is None:
            out.append(neg)
            continue
        t = tier(c)
        moved[_ACTIONS[t]] += 1
        evidence = {**neg.evidence, "verdicts": {**c.model_dump(), "action": _ACTIONS[t]}}
        judged = neg.model_copy(update={"evidence": evidence})
        if t == 0:
            raised.append(judged)
        elif t == 1:
            out.append(judged)
        elif t == 2:
            demoted.append((i, judged))
    out = raised + out
    for i, neg in reversed(demoted):  # the first demoted ends up highest
        out.insert(min(len(out), max(i, k - 1)), neg)
    return out, moved


def _describe(moved: dict[str, int]) -> str:
    parts = [f"{n} {a}" for a, n in moved.items() if n and a != "kept"]
    return ", ".join(parts) + " by verdicts on other items" if parts else ""


def verdict_steps(settings: VerdictSettings, store: VerdictStore) -> list[ItemStep]:
    """The item steps the pipeline registers for verdicts, in order: the item's own verdicts
    first (they drop), then the positive's (they re-order what is left). They share one index
    of what has verdicts, so items without any skip both steps without I/O."""
    index = store.index
    index.refresh_s = settings.verdict_refresh_s
    return [
        PresentOnItemStep(store, index),
        PositiveVerdictStep(
            store, settings.verdict_demote_items, settings.verdict_drop_items, index
        ),
    ]
