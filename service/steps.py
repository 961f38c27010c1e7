"""Item steps: per-item evidence applied to a positive's ranked negatives on the way out.

Mining a positive (miners, guard, similarity, ranking) does not depend on the image it came
from, so its result is cached per positive. What does depend on the item is applied afterwards,
on every request, by item steps: human verdicts for this item (a negative judged present never
comes back), the image itself (image-text scores), a detector's outcomes on this image (fooled /
ignored / fires elsewhere), an online verifier. A step may drop negatives, re-order them and add
evidence; it reports its own status under ``item.miners[step.name]`` (``disabled`` with the
reason when it cannot run, e.g. no image tower), so nothing is ever skipped silently.

Steps run in the order the pipeline registers them; each sees the previous one's output.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from hardneg.miners.types import MinerStatus, Negative, RequestItem

__all__ = ["ItemStep", "Preflight", "StepInput", "StepOutput", "preflight"]


def _allow_all(phrase: str) -> str | None:
    return None


@dataclass
class StepInput:
    """One positive of one item: its ranked negatives (best first; more than k when the miners
    found more, so a step that drops some still leaves k), and the k the request asked for.

    ``blocked(phrase)`` is the item's exclusion guard (None when the phrase may be returned, else
    why not): a step that ADDS negatives must pass each through it.
    """

    item: RequestItem
    positive: str
    negatives: list[Negative]
    k: int
    blocked: Callable[[str], str | None] = _allow_all


@dataclass
class StepOutput:
    """What a step kept, in its order; ``status`` is reported under the step's name."""

    negatives: list[Negative]
    status: MinerStatus | None = None
    notes: list[str] = field(default_factory=list)


@runtime_checkable
class ItemStep(Protocol):
    """A per-item step. ``applies`` is cheap and synchronous: items it does not apply to skip
    the step entirely (and keep the pipeline's no-copy fast path)."""

    name: str

    def applies(self, item: RequestItem) -> bool: ...

    async def apply(self, inp: StepInput) -> StepOutput: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class Preflight(Protocol):
    """Optional capability of an item step: check (and fetch) what it needs of the request's
    items before any mining starts, raising ``InvalidInput`` (HTTP 422, saying which item and
    why) for input it cannot use: a bad image is refused up front, not after the work."""

    async def prepare(self, items: Sequence[RequestItem]) -> None: ...


async def preflight(steps: Sequence[ItemStep], items: Sequence[RequestItem]) -> None:
    """Run every step's :meth:`Preflight.prepare` on the items (the pipeline calls this before
    mining); the first bad input raises."""
    for step in steps:
        if isinstance(step, Preflight):
            await step.prepare(items)
