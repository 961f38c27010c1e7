"""The Miner protocol, what a miner is given, and the registry of miners.

A miner proposes candidate negatives for one positive. Built-in and third-party miners register
through the entry-point group ``hardneg.miners``; the entry point names a factory (usually the
class) called as ``factory(ctx)`` with the shared :class:`MinerContext`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from hardneg.miners.types import Candidate

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "hardneg.miners"


class MineQuery(BaseModel):
    """What a miner is asked: one positive of one item, with the item's context."""

    positive: str
    present: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    item_id: str = ""
    k: int = 30


class MinerOutput(BaseModel):
    """Candidates, plus a note saying why there are few or none (status stays ``ok``)."""

    candidates: list[Candidate] = Field(default_factory=list)
    note: str | None = None


class Related(BaseModel):
    """What a knowledge source knows of a phrase: its synonyms/aliases and its ancestors."""

    synonyms: set[str] = Field(default_factory=set)
    ancestors: set[str] = Field(default_factory=set)
    evidence: dict[str, Any] = Field(default_factory=dict)


@runtime_checkable
class Embedder(Protocol):
    """Text (and optionally image) encoder. Vectors are L2-normalised float32 rows."""

    id: str
    dim: int

    def encode_text(self, texts: Sequence[str]) -> np.ndarray: ...


class CacheLike(Protocol):
    """The subset of the service cache a miner may use for its own long-lived results."""

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    async def set_many(self, items: dict[str, bytes], ttl_s: int | None = None) -> None: ...


@dataclass
class MinerContext:
    """Shared resources handed to miner factories and to every ``mine`` call."""

    settings: Any
    embedder: Embedder | None = None
    cache: CacheLike | None = None
    extras: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Miner(Protocol):
    """Proposes candidate negatives. ``version`` goes into cache keys: bump it on any change."""

    name: str
    version: str

    async def mine(self, query: MineQuery, ctx: MinerContext) -> MinerOutput: ...


@runtime_checkable
class KnowledgeSource(Protocol):
    """Optional miner capability: synonyms and ancestors the exclusion guard must honour."""

    async def related(self, phrases: Sequence[str], ctx: MinerContext) -> dict[str, Related]: ...


@runtime_checkable
class Closable(Protocol):
    async def aclose(self) -> None: ...


class MinerUnavailable(Exception):
    """Raised by a factory when a miner cannot run here (no URL set, no data); status disabled."""


MinerFactory = Callable[[MinerContext], Miner]


def discover() -> dict[str, MinerFactory]:
    """Every miner factory registered under the ``hardneg.miners`` entry-point group."""
    found: dict[str, MinerFactory] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found[ep.name] = ep.load()
        except Exception as exc:  # a broken plugin must not take the service down
            log.error("miner plugin %r failed to import: %s", ep.name, exc)
    return found


@dataclass
class Registry:
    """The miners of one running service: built ones, and disabled ones with their reason."""

    miners: dict[str, Miner] = field(default_factory=dict)
    disabled: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return sorted([*self.miners, *self.disabled])

    def versions(self) -> dict[str, str]:
        return {name: m.version for name, m in sorted(self.miners.items())}

    def knowledge_sources(self) -> list[KnowledgeSource]:
        return [m for m in self.miners.values() if isinstance(m, KnowledgeSource)]

    async def aclose(self) -> None:
        for m in self.miners.values():
            if isinstance(m, Closable):
                await m.aclose()


def build_registry(
    ctx: MinerContext,
    allow: Sequence[str] | None = None,
    factories: dict[str, MinerFactory] | None = None,
) -> Registry:
    """Instantiate the allowed miners; a factory that fails leaves its miner disabled."""
    factories = discover() if factories is None else factories
    reg = Registry()
    for name, factory in sorted(factories.items()):
        if allow is not None and name not in allow:
            reg.disabled[name] = "not in HARDNEG_MINERS allow-list"
            continue
        try:
            reg.miners[name] = factory(ctx)
        except MinerUnavailable as exc:
            reg.disabled[name] = str(exc)
        except Exception as exc:
            log.exception("miner %r failed to start", name)
            reg.disabled[name] = f"failed to start: {type(exc).__name__}: {exc}"
    return reg
