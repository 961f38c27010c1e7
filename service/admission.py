"""Admission by work, not by requests: items to compute, in two lanes.

A request is admitted for the items it must compute (cache misses), in its lane: *interactive*
(at most ``HARDNEG_INTERACTIVE_MAX_ITEMS`` items: annotation tools, GET) or *bulk* (batch
jobs). Each lane has its own compute slots and its own budget of admitted items (computing plus
waiting for a slot); past the budget a request gets 429 with a Retry-After computed from the
lane's measured item time, instead of waiting in a queue. Bulk work never takes interactive
slots, so a 1,000-item batch cannot make a one-concept GET wait.

The default sizes come from the machine (usable CPUs, cgroup quota included), see
:func:`default_slots` and docs/benchmarks.md for the measurement behind them.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Literal

from pydantic import Field

from hardneg.miners.errors import Overloaded
from hardneg.miners.settings import SettingsSection

__all__ = ["Admission", "AdmissionSettings", "Lane", "default_slots", "usable_cpus"]

LaneName = Literal["interactive", "bulk"]
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
# Measured on the 2-core CI machine (docs/benchmarks.md, `bench/bench_overload.py
# --calibrate`): cold requests/s stop growing at one concurrent item per CPU (2.1/s with one
# client, 3.4/s with two, no more with three to six); past that only latency grows.
SLOTS_PER_CPU = 1
# Admitted items per slot (computing + waiting): 1 = an admitted item never waits for a slot,
# so its latency stays that of the machine at capacity; the excess gets 429 at once.
BUDGET_PER_SLOT = 1


class AdmissionSettings(SettingsSection):
    """How much mining work one process admits at once (service/admission.py)."""

    interactive_slots: int = Field(
        0,
        ge=0,
        description="Items of interactive requests computed at once; 0 = derived from the"
        " machine (1 per usable CPU, at least 2; cgroup quota included).",
    )
    bulk_slots: int = Field(
        0,
        ge=0,
        description="Items of bulk requests computed at once; 0 = derived from the machine"
        " (half the interactive slots, at least 1).",
    )
    admit_per_slot: int = Field(
        BUDGET_PER_SLOT,
        ge=1,
        description="Items admitted per slot (computing plus waiting); more get 429 with"
        " Retry-After.",
    )
    interactive_max_items: int = Field(
        4,
        ge=1,
        description="Requests with at most this many items to compute use the interactive"
        " lane; larger ones the bulk lane.",
    )


def usable_cpus() -> float:
    """CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota."""
    cpus = float(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, int(quota) / int(period))
    except (OSError, ValueError):
        pass
    return max(cpus, 1.0)


def default_slots(cpus: float | None = None) -> tuple[int, int]:
    """(interactive, bulk) compute slots for a machine with ``cpus`` usable CPUs."""
    cpus = usable_cpus() if cpus is None else cpus
    interactive = max(2, round(SLOTS_PER_CPU * cpus))  # two: one request never blocks another
    return interactive, max(1, interactive // 2)


class Lane:
    """One lane: compute slots, a budget of admitted items and the measured item time."""

    def __init__(self, name: LaneName, slots: int, budget: int) -> None:
        self.name, self.slots, self.budget = name, slots, budget
        self.admitted = 0
        self._sem = asyncio.Semaphore(slots)
        self._room = asyncio.Condition()
        self._item_s = 0.5  # an initial guess, replaced by measurements (EWMA)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one compute slot for one item; its time feeds the Retry-After estimate."""
        async with self._sem:
            start = time.monotonic()
            try:
                yield
            finally:
                self._item_s = 0.8 * self._item_s + 0.2 * (time.monotonic() - start)

    def fits(self, items: int) -> bool:
        return not self.admitted or self.admitted + items <= self.budget

    def retry_after_s(self) -> int:
        """Seconds until the work admitted now has drained through the slots (at least 1)."""
        return max(1, math.ceil(self.admitted * self._item_s / self.slots))


class Admission:
    """The two lanes of one process. ``reject``: past a lane's budget, raise Overloaded (the
    HTTP service: the client retries after Retry-After); else wait for room (in-process
    callers such as batch jobs, which have nobody to hand a 429 to)."""

    def __init__(
        self,
        interactive_slots: int,
        bulk_slots: int,
        per_slot: int,
        interactive_max_items: int,
        *,
        reject: bool = False,
    ) -> None:
        self.interactive = Lane("interactive", interactive_slots, interactive_slots * per_slot)
        self.bulk = Lane("bulk", bulk_slots, bulk_slots * per_slot)
        self.interactive_max_items = interactive_max_items
        self.reject = reject

    @classmethod
    def from_settings(cls, s: AdmissionSettings, *, reject: bool = False) -> Admission:
        auto_i, auto_b = default_slots()
        interactive = s.interactive_slots or auto_i
        bulk = s.bulk_slots or (max(1, interactive // 2) if s.interactive_slots else auto_b)
        return cls(interactive, bulk, s.admit_per_slot, s.interactive_max_items, reject=reject)

    def lane_for(self, items: int) -> Lane:
        return self.interactive if items <= self.interactive_max_items else self.bulk

    @asynccontextmanager
    async def admit(self, items: int) -> AsyncIterator[Lane]:
        """Admit ``items`` to compute in their lane, or raise Overloaded (429 + Retry-After).

        A request larger than its lane's whole budget is admitted when the lane is idle (it
        then computes through the lane's slots); otherwise it could never run.
        """
        lane = self.lane_for(items)
        if self.reject and not lane.fits(items):
            raise Overloaded(
                f"{lane.name} lane full ({lane.admitted} items admitted, budget {lane.budget});"
                " retry after the Retry-After delay",
                retry_after_s=lane.retry_after_s(),
            )
        async with lane._room:
            await lane._room.wait_for(lambda: lane.fits(items))
            lane.admitted += items
        try:
            yield lane
        finally:
            async with lane._room:
                lane.admitted -= items
                lane._room.notify_all()

    def snapshot(self) -> dict[str, dict[str, int]]:
        """Slots, budget and admitted items per lane (for /readyz and metrics)."""
        return {
            lane.name: {"slots": lane.slots, "budget": lane.budget, "admitted": lane.admitted}
            for lane in (self.interactive, self.bulk)
        }
