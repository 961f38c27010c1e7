"""The Verifier contract: an image and phrases in, detections per phrase out; and its registry.

A verifier wraps an open-vocabulary detector (OWLv2, Grounding DINO, SAM 3) so the service can
check proposed negatives on the request's own image, online. Built-in and third-party verifiers
register under the entry-point group ``hardneg.verifiers``, like miners under ``hardneg.miners``;
the factory is called as ``factory(settings)``. ``HARDNEG_VERIFIER`` names the one to use.
Subclass :class:`VerifierBase` for every optional hook's default; docs/verifiers.md shows one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from hardneg.miners.errors import MinerUnavailable
from hardneg.miners.verify.outcome import Detection

if TYPE_CHECKING:
    from hardneg.miners.settings import SettingsSection

__all__ = [
    "ENTRY_POINT_GROUP",
    "Verifier",
    "VerifierBase",
    "VerifierFactory",
    "VerifyImage",
    "build_verifier",
    "discover_verifiers",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "hardneg.verifiers"
_CONTRACT = ("name", "version", "timeout_s", "detect", "check", "aclose")


@dataclass(frozen=True)
class VerifyImage:
    """The image a verifier is asked about: its bytes, SHA-256 and size in pixels."""

    data: bytes
    sha256: str
    width: int
    height: int


@runtime_checkable
class Verifier(Protocol):
    """The whole contract. ``version`` is reported with the evidence it produced."""

    name: str
    version: str
    timeout_s: float | None  # own limit per call; None = HARDNEG_VERIFIER_TIMEOUT_S

    async def detect(
        self, image: VerifyImage, phrases: Sequence[str]
    ) -> dict[str, list[Detection]]:
        """Detections per phrase (every phrase asked is a key, possibly with no detections);
        raise to fail (the step reports error/timeout and leaves the ranking as it was)."""
        ...

    async def check(self) -> tuple[bool, str] | None:
        """Readiness probe of the detector (/readyz); None = nothing to ask."""
        ...

    async def aclose(self) -> None: ...


class VerifierBase:
    """Defaults for the optional hooks of :class:`Verifier`."""

    name: str = ""
    version: str = "1"
    timeout_s: float | None = None

    async def detect(
        self, image: VerifyImage, phrases: Sequence[str]
    ) -> dict[str, list[Detection]]:
        raise NotImplementedError

    async def check(self) -> tuple[bool, str] | None:
        return None

    async def aclose(self) -> None:
        return None


VerifierFactory = Callable[["SettingsSection"], Verifier]


def discover_verifiers() -> dict[str, VerifierFactory]:
    """Every verifier factory registered under ``hardneg.verifiers``."""
    found: dict[str, VerifierFactory] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found[ep.name] = ep.load()
        except Exception as exc:  # a broken plugin must not take the service down
            log.error("verifier plugin %r failed to import: %s", ep.name, exc)
    return found


def build_verifier(
    name: str | None,
    settings: SettingsSection,
    factories: dict[str, VerifierFactory] | None = None,
) -> tuple[Verifier | None, str]:
    """The configured verifier, or None and why (not configured, unknown, failed to start)."""
    if not name:
        return None, "no verifier configured (HARDNEG_VERIFIER)"
    factories = discover_verifiers() if factories is None else factories
    factory = factories.get(name)
    if factory is None:
        return None, f"unknown verifier {name!r}; registered: {sorted(factories)}"
    try:
        verifier = factory(settings)
    except MinerUnavailable as exc:
        return None, str(exc)
    except Exception as exc:
        log.exception("verifier %r failed to start", name)
        return None, f"failed to start: {type(exc).__name__}: {exc}"
    gaps = [m for m in _CONTRACT if not hasattr(verifier, m)]
    if gaps:
        return None, (
            f"does not implement the Verifier contract (missing {', '.join(gaps)});"
            " subclass hardneg.miners.verify.base.VerifierBase"
        )
    return verifier, "ok"
