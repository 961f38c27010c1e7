"""Human verdicts on proposed negatives: durable storage, routes, acceptance statistics, and
their feedback into mining as item steps (see docs/annotation.md)."""

from __future__ import annotations

from hardneg.service.verdicts.settings import AnnotateSettings, VerdictSettings
from hardneg.service.verdicts.steps import PositiveVerdictStep, PresentOnItemStep, verdict_steps
from hardneg.service.verdicts.store import VerdictStats, VerdictStore, open_verdict_store

__all__ = [
    "AnnotateSettings",
    "PositiveVerdictStep",
    "PresentOnItemStep",
    "VerdictSettings",
    "VerdictStats",
    "VerdictStore",
    "open_verdict_store",
    "verdict_steps",
]
