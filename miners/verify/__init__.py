"""Detector-in-the-loop verification of negatives (the SA-Co loop): offline rounds and online
verifiers share one rule (fooled / ignored / fires elsewhere); see docs/verification.md."""

from __future__ import annotations

from hardneg.miners.verify.base import (
    ENTRY_POINT_GROUP,
    Verifier,
    VerifierBase,
    VerifyImage,
    build_verifier,
    discover_verifiers,
)
from hardneg.miners.verify.outcome import Decision, Detection, Instance, VerifyOptions, decide
from hardneg.miners.verify.records import OutcomeRecord, Query, VerifyRound, standing
from hardneg.miners.verify.store import VerifyStore, open_verify_store

__all__ = [
    "ENTRY_POINT_GROUP",
    "Decision",
    "Detection",
    "Instance",
    "OutcomeRecord",
    "Query",
    "Verifier",
    "VerifierBase",
    "VerifyImage",
    "VerifyOptions",
    "VerifyRound",
    "VerifyStore",
    "build_verifier",
    "decide",
    "discover_verifiers",
    "open_verify_store",
    "standing",
]
