"""The miner contract: what a miner is asked and given, every hook it may offer, the registry.

A miner proposes candidate negatives for one positive. Built-in and third-party miners register
through the entry-point group ``hardneg.miners``; the entry point names a factory (usually the
class) called as ``factory(ctx)`` with the shared :class:`MinerContext`. Subclass
:class:`MinerBase` to get a default for every optional hook; docs/miners.md shows a whole miner.

Every hook the pipeline calls is declared here (on :class:`Miner`); the pipeline never probes a
miner for undeclared attributes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, Field

from hardneg.miners.cache import CacheLike
from hardneg.miners.errors import MinerTimeout, MinerUnavailable
from hardneg.miners.types import Candidate

if TYPE_CHECKING:
    import numpy as np

    from hardneg.miners.false_positive.store import FPStore
    from hardneg.miners.knowledge import Knowledge
    from hardneg.miners.settings import SettingsSection

__all__ = [
    "ENTRY_POINT_GROUP",
    "AsyncEmbedder",
    "CacheLike",
    "Embedder",
    "ImageEmbedder",
    "KnowledgeSource",
    "MineQuery",
    "Miner",
    "MinerBase",
    "MinerContext",
    "MinerFactory",
    "MinerOutput",
    "MinerTimeout",
    "MinerTraits",
    "MinerUnavailable",
    "Progress",
    "Registry",
    "Related",
    "build_registry",
    "discover",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "hardneg.miners"

Progress = Callable[[int, int], None]  # (done, total), for warm-ups that take a while
S = TypeVar("S", bound="SettingsSection")


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


@runtime_checkable
class ImageEmbedder(Embedder, Protocol):
    """An embedder with an image tower in the same space as its text (open_clip). ``image_tower``
    is False when the tower was not loaded (``HARDNEG_IMAGE_TOWER=false``)."""

    image_tower: bool

    def encode_image(self, images: Sequence[Any]) -> np.ndarray:
        """(n, dim) float32, L2-normalised, one row per RGB PIL image."""
        ...


@runtime_checkable
class AsyncEmbedder(Embedder, Protocol):
    """The embedder miners are given: ``encode`` is cached and runs the model off the event
    loop; ``encode_text`` (inherited) is the uncached synchronous call, for index builds."""

    async def encode(self, texts: Sequence[str]) -> np.ndarray: ...

    def remember(self, vectors: Mapping[str, np.ndarray]) -> None:
        """Keep vectors already computed by this embedder (a vocabulary index's rows) in
        process, so ``encode`` does not compute them again."""


@dataclass
class MinerContext:
    """Shared resources handed to miner factories and to every ``mine`` call.

    ``settings`` is the service's settings object, which includes every built-in miner's typed
    section; a miner reads its own section with :meth:`section`.
    """

    settings: SettingsSection | None = None
    embedder: AsyncEmbedder | None = None
    cache: CacheLike | None = None
    knowledge: Knowledge | None = None
    fp_store: FPStore | None = None  # the process's one false-positive store (service, CLI)

    def section(self, cls: type[S]) -> S:
        """This context's settings as ``cls``: the service settings when they include that
        section (every built-in one), else ``cls`` read from the environment (``HARDNEG_*``)."""
        if isinstance(self.settings, cls):
            return self.settings
        return cls()

    def knowledge_or_default(self) -> Knowledge:
        """The shared knowledge, or the shipped default when the context carries none."""
        if self.knowledge is None:
            from hardneg.miners.knowledge import Knowledge

            self.knowledge = Knowledge.load_default()
        return self.knowledge


@dataclass(frozen=True)
class MinerTraits:
    """How the pipeline treats a miner's candidates."""

    uses_item_id: bool = False  # answers depend on the item id (it goes into cache keys)
    band_exempt: bool = False  # candidates skip the similarity band's floor (proven confusions)
    timeout_s: float | None = None  # own timeout per positive; None = HARDNEG_MINER_TIMEOUT_S


@runtime_checkable
class Miner(Protocol):
    """The whole contract. ``version`` goes into cache keys: bump it on any change of output."""

    name: str
    version: str
    traits: MinerTraits

    async def mine(self, query: MineQuery, ctx: MinerContext) -> MinerOutput:
        """Candidates for ``query.positive``; raise to fail (status error/timeout), never hang."""
        ...

    async def ready(self, progress: Progress | None = None) -> None:
        """Load indexes or data now rather than on the first request (called at start-up)."""
        ...

    @property
    def snapshot_id(self) -> str | None:
        """Identity of the data the miner reads (reported in ``versions``), or None."""
        ...

    async def data_version(self) -> str | None:
        """For data that changes while the service runs: its current version (in cache keys)."""
        ...

    async def check(self) -> tuple[bool, str] | None:
        """Readiness probe of what the miner depends on (/readyz, doctor); None = nothing to ask."""
        ...

    async def aclose(self) -> None:
        """Release connections and files."""
        ...


class MinerBase:
    """Defaults for every optional hook of :class:`Miner`; subclasses set ``name`` and
    ``version`` (an attribute or a property) and implement ``mine``."""

    name: str = ""
    traits: MinerTraits = MinerTraits()
    snapshot_id: str | None = None  # identity of the data read (reported in ``versions``)

    async def mine(self, query: MineQuery, ctx: MinerContext) -> MinerOutput:
        raise NotImplementedError

    async def ready(self, progress: Progress | None = None) -> None:
        return None

    async def data_version(self) -> str | None:
        return None

    async def check(self) -> tuple[bool, str] | None:
        return None

    async def aclose(self) -> None:
        return None


@runtime_checkable
class KnowledgeSource(Protocol):
    """Optional capability: synonyms and ancestors the exclusion guard must honour."""

    async def related(self, phrases: Sequence[str], ctx: MinerContext) -> dict[str, Related]: ...


MinerFactory = Callable[[MinerContext], Miner]
_CONTRACT = ("name", "version", "traits", "mine", "ready", "data_version", "check", "aclose")


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

    def knowledge_sources(self) -> list[tuple[str, KnowledgeSource]]:
        return [(n, m) for n, m in self.miners.items() if isinstance(m, KnowledgeSource)]

    async def aclose(self) -> None:
        for m in self.miners.values():
            await m.aclose()


def _contract_gaps(miner: object) -> list[str]:
    """Members of the Miner contract that ``miner`` lacks (subclass MinerBase to have them all)."""
    present = set(dir(miner))
    return [m for m in _CONTRACT if m not in present]


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
            miner = factory(ctx)
        except MinerUnavailable as exc:
            reg.disabled[name] = str(exc)
            continue
        except Exception as exc:
            log.exception("miner %r failed to start", name)
            reg.disabled[name] = f"failed to start: {type(exc).__name__}: {exc}"
            continue
        gaps = _contract_gaps(miner)
        if gaps:
            reg.disabled[name] = (
                f"does not implement the Miner contract (missing {', '.join(gaps)});"
                " subclass hardneg.miners.base.MinerBase"
            )
            continue
        reg.miners[name] = miner
    return reg
