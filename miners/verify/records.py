"""What verification rounds store: queries, per-round stats, and per (image, phrase) outcomes.

An outcome record keeps every round's answer and a human check, and :func:`standing` reduces it
to what mining does with the phrase on that image: lead (fooled, or fired and checked absent),
demote (ignored), hold (fired elsewhere, not yet checked) or drop (checked present).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from hardneg.miners.verify.outcome import Outcome

MAX_ROUND_CHARS = 200
Verdict = Literal["absent", "present"]
Standing = Literal["lead", "neutral", "demote", "hold", "drop"]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Query(BaseModel):
    """One (image, phrase) pair a detector is asked about, with where the phrase came from."""

    id: int
    image_id: str
    phrase: str
    positive: str
    sources: list[str] = Field(default_factory=list)
    kind: str = "other"


class Tally(BaseModel):
    queries: int = 0
    fooled: int = 0
    ignored: int = 0
    elsewhere: int = 0

    def add(self, outcome: Outcome) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


class VerifyRound(BaseModel):
    """One named round: its queries (export) and the detector's answers on them (ingest)."""

    round: str
    seq: int = Field(description="1 for the first round exported, then 2, ...")
    images: int = 0
    export_hash: str
    ingest_hash: str | None = Field(None, description="Content hash of the ingested predictions.")
    predictions: int = 0
    thresholds: dict[str, float] = Field(default_factory=dict)
    totals: Tally = Field(default_factory=Tally)
    per_miner: dict[str, Tally] = Field(
        default_factory=dict, description="A query counts for each miner that proposed it."
    )
    per_kind: dict[str, Tally] = Field(default_factory=dict)
    created_at: str = ""
    ingested_at: str | None = None

    def count(self, query: Query, outcome: Outcome | None) -> None:
        """Add one query (at export, ``outcome`` None) or its outcome (at ingest)."""
        tallies = [self.totals, *(self.per_miner.setdefault(s, Tally()) for s in query.sources)]
        tallies.append(self.per_kind.setdefault(query.kind, Tally()))
        for t in tallies:
            if outcome is None:
                t.queries += 1
            else:
                t.add(outcome)


class ExportReport(BaseModel):
    round: str
    already_exported: bool
    stats: VerifyRound


class VerifyIngestReport(BaseModel):
    round: str
    already_ingested: bool
    stats: VerifyRound


class RoundAnswer(BaseModel):
    """One round's answer on one (image, phrase)."""

    seq: int
    outcome: Outcome
    score: float
    iou: float = 0.0
    positive: str | None = None
    query: int


class OutcomeRecord(BaseModel):
    """Everything known about one phrase on one image."""

    image_id: str
    phrase: str
    rounds: dict[str, RoundAnswer] = Field(default_factory=dict)
    human: Verdict | None = None
    checked_at: str | None = None

    def latest(self) -> tuple[str, RoundAnswer] | None:
        if not self.rounds:
            return None
        return max(self.rounds.items(), key=lambda kv: kv[1].seq)


def standing(rec: OutcomeRecord) -> tuple[Standing, dict[str, Any]]:
    """What mining does with the phrase on this image, and the evidence it carries.

    A human check wins. Otherwise a firing away from every positive in *any* round holds the
    phrase (a later round ignoring it proves nothing about the image); else the latest round
    decides: fooled leads, ignored is demoted.
    """
    last = rec.latest()
    ev: dict[str, Any] = {}
    if last is not None:
        name, ans = last
        ev = {"round": name, "outcome": ans.outcome, "score": round(ans.score, 4)}
        if ans.outcome == "fooled":
            ev |= {"iou": round(ans.iou, 4), "positive": ans.positive}
    if rec.human == "present":
        return "drop", ev | {"human": "present"}
    elsewhere = [n for n, a in rec.rounds.items() if a.outcome == "elsewhere"]
    if rec.human == "absent":
        return (
            "lead" if elsewhere or (last and last[1].outcome == "fooled") else "neutral"
        ), ev | {"human": "absent"}
    if elsewhere:
        return "hold", ev | {"held_by": elsewhere}
    if last is None:
        return "neutral", ev
    return ("lead" if last[1].outcome == "fooled" else "demote"), ev
