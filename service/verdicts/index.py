"""Which positives and items have verdicts, known without I/O, so the steps' ``applies`` stays
synchronous and cheap and items without verdicts keep the pipeline's fast path.

This process's own writes are seen at once (the store tells its listeners); other processes'
(other workers, the CLI) within ``refresh_s``, when a refresh started by ``applies`` lands. Until
the first read has landed every item is treated as having verdicts: nothing is ever missed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from hardneg.miners.knowledge.normalize import match_key
from hardneg.miners.verdicts import Verdict, VerdictKind

if TYPE_CHECKING:
    from hardneg.service.verdicts.store import VerdictStore

__all__ = ["VerdictIndex"]

log = logging.getLogger(__name__)


class VerdictIndex:
    """Positive match keys with verdicts, and item ids with a ``present`` verdict."""

    def __init__(self, store: VerdictStore, refresh_s: float = 2.0) -> None:
        self.store = store
        self.refresh_s = refresh_s
        self.positives: set[str] | None = None
        self.items: set[str] | None = None
        self._read_at = -float("inf")
        self._task: asyncio.Task[None] | None = None
        self._noted: tuple[set[str], set[str]] = (set(), set())  # during a refresh
        store.listeners.append(self.note)

    def note(self, verdicts: Sequence[Verdict]) -> None:
        """A write of this process: known at once."""
        positives = {match_key(v.positive) for v in verdicts}
        items = {v.item_id for v in verdicts if v.verdict is VerdictKind.present}
        self._noted[0].update(positives)
        self._noted[1].update(items)
        if self.positives is not None:
            self.positives |= positives
        if self.items is not None:
            self.items |= items

    def has_positive(self, positives: Iterable[str]) -> bool:
        self._maybe_refresh()
        known = self.positives
        return known is None or any(match_key(p) in known for p in positives)

    def has_present(self, item_id: str) -> bool:
        self._maybe_refresh()
        return self.items is None or item_id in self.items

    def _maybe_refresh(self) -> None:
        if time.monotonic() - self._read_at < self.refresh_s or self._task is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a synchronous caller): the conservative answer stands
        self._task = loop.create_task(self.refresh())

    async def refresh(self) -> None:
        """Read both sets from the store (a failing store keeps the last ones, or none)."""
        self._noted = (set(), set())
        try:
            positives, items = await self.store.with_verdicts()
        except Exception as exc:
            log.warning("verdict index not refreshed: %s", exc)
            return
        finally:
            self._read_at = time.monotonic()
            self._task = None
        # writes noted while the read was in flight may not be in it
        self.positives, self.items = positives | self._noted[0], items | self._noted[1]
