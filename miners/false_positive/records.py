"""What an ingest adds to the confusion table, and how it merges with what is already there.

Both stores (SQLite, Redis) read the touched records, call :func:`plan_ingest`, and write the
plan in one transaction, so the merge rules live here once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

MAX_EXAMPLES = 5
EMPTY_VERSION = "empty"
MAX_ROUND_CHARS = 200

Record = dict[str, Any]
PairKey = tuple[str, str]


@dataclass(frozen=True)
class PairDelta:
    """False positives of ``predicted`` overlapping an instance of ``present``, in one file."""

    present: str
    predicted: str
    count: int
    sum_score: float
    max_score: float
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImageDelta:
    """Image-level false positives of ``concept`` (absent from the image) in one file."""

    image_id: str
    concept: str
    count: int
    sum_score: float
    max_score: float


class Counts(BaseModel):
    """Counters of one file or one round; see docs/false_positives.md for each meaning."""

    images: int = 0
    predictions: int = 0
    below_threshold: int = 0
    true_positives: int = 0
    false_positives: int = 0
    image_level: int = 0
    confusions: int = 0
    unverified: int = Field(0, description="Unmatched but not confirmed (label not exhaustive).")
    ignored_crowd: int = 0
    images_with_false_positives: int = 0

    def plus(self, other: Counts) -> dict[str, int]:
        return {k: getattr(self, k) + getattr(other, k) for k in Counts.model_fields}


class IngestStats(Counts):
    """One ingested file pair."""

    round: str
    content_hash: str
    pairs: int = Field(0, description="Distinct (present, predicted) confusion pairs in the file.")
    new_pairs: int = Field(0, description="Pairs the table did not hold before this file.")
    thresholds: dict[str, float] = Field(default_factory=dict)
    ingested_at: str = ""


class RoundStats(Counts):
    """One round (model version): sums over its files, pairs counted once."""

    round: str
    seq: int = Field(description="1 for the first round ingested, then 2, ...")
    ingests: int = 0
    pairs: int = Field(0, description="Distinct confusion pairs seen in this round.")
    new_pairs: int = Field(0, description="Pairs first seen in this round (not in earlier ones).")
    created_at: str = ""
    updated_at: str = ""

    @property
    def new_pair_fraction(self) -> float:
        return self.new_pairs / self.pairs if self.pairs else 0.0


class IngestReport(BaseModel):
    """Answer to an ingest: this file's stats and its round's running totals."""

    round: str
    content_hash: str
    already_ingested: bool = Field(description="True when this (round, content) was stored before.")
    ingest: IngestStats
    stats: RoundStats
    version: str = Field(description="Data version of the table after this ingest.")


@dataclass
class Prepared:
    """A parsed and matched file pair, ready to be committed to a store."""

    round: str
    content_hash: str
    counts: Counts
    thresholds: dict[str, float]
    pairs: list[PairDelta]
    images: list[ImageDelta]


@dataclass
class Existing:
    """What a store already holds of the records an ingest touches."""

    pairs: dict[PairKey, Record] = field(default_factory=dict)
    images: dict[PairKey, Record] = field(default_factory=dict)
    round: RoundStats | None = None
    n_rounds: int = 0
    version: str = EMPTY_VERSION


@dataclass
class Plan:
    """Everything one ingest writes; a store writes all of it or none of it."""

    pairs: dict[PairKey, Record]
    images: dict[PairKey, Record]
    round: RoundStats
    ingest: IngestStats
    version: str

    def report(self) -> IngestReport:
        return IngestReport(
            round=self.round.round,
            content_hash=self.ingest.content_hash,
            already_ingested=False,
            ingest=self.ingest,
            stats=self.round,
            version=self.version,
        )


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def next_version(previous: str, round_name: str, content_hash: str) -> str:
    """A chained digest: equal for equal ingest histories, different after any new ingest."""
    return hashlib.sha256(f"{previous}|{round_name}|{content_hash}".encode()).hexdigest()[:16]


def _merge_pair(old: Record | None, d: PairDelta, round_name: str) -> Record:
    if old is None:
        return {
            "count": d.count,
            "sum_score": d.sum_score,
            "max_score": d.max_score,
            "rounds": [round_name],
            "first_round": round_name,
            "examples": list(d.examples[:MAX_EXAMPLES]),
        }
    examples = [*old["examples"], *(e for e in d.examples if e not in old["examples"])]
    return {
        "count": old["count"] + d.count,
        "sum_score": old["sum_score"] + d.sum_score,
        "max_score": max(old["max_score"], d.max_score),
        "rounds": _with(old["rounds"], round_name),
        "first_round": old["first_round"],
        "examples": examples[:MAX_EXAMPLES],
    }


def _merge_image(old: Record | None, d: ImageDelta, round_name: str) -> Record:
    if old is None:
        return {
            "count": d.count,
            "sum_score": d.sum_score,
            "max_score": d.max_score,
            "rounds": [round_name],
        }
    return {
        "count": old["count"] + d.count,
        "sum_score": old["sum_score"] + d.sum_score,
        "max_score": max(old["max_score"], d.max_score),
        "rounds": _with(old["rounds"], round_name),
    }


def _with(items: list[str], item: str) -> list[str]:
    return items if item in items else [*items, item]


def plan_ingest(existing: Existing, prep: Prepared) -> Plan:
    """Merge one prepared file into the touched records and its round's stats."""
    stamp = now_iso()
    pairs: dict[PairKey, Record] = {}
    in_round = new = 0
    for d in prep.pairs:
        old = existing.pairs.get((d.present, d.predicted))
        new += old is None
        in_round += old is None or prep.round not in old["rounds"]
        pairs[(d.present, d.predicted)] = _merge_pair(old, d, prep.round)
    images = {
        (d.image_id, d.concept): _merge_image(
            existing.images.get((d.image_id, d.concept)), d, prep.round
        )
        for d in prep.images
    }
    ingest = IngestStats(
        round=prep.round,
        content_hash=prep.content_hash,
        pairs=len(prep.pairs),
        new_pairs=new,
        thresholds=prep.thresholds,
        ingested_at=stamp,
        **prep.counts.model_dump(),
    )
    prior = existing.round or RoundStats(
        round=prep.round, seq=existing.n_rounds + 1, created_at=stamp
    )
    stats = RoundStats(
        round=prep.round,
        seq=prior.seq,
        ingests=prior.ingests + 1,
        pairs=prior.pairs + in_round,
        new_pairs=prior.new_pairs + new,
        created_at=prior.created_at,
        updated_at=stamp,
        **prior.plus(prep.counts),
    )
    version = next_version(existing.version, prep.round, prep.content_hash)
    return Plan(pairs=pairs, images=images, round=stats, ingest=ingest, version=version)
