"""Wire types of human verdicts on proposed negatives (``POST /v1/verdicts`` and its answers).

Pydantic only, like :mod:`hardneg.miners.types`: annotation tools and the light client import it.
A verdict says what an annotator saw for one negative proposed for one positive of one item.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hardneg.miners.types import MAX_PHRASE_CHARS, Kind, Phrase

__all__ = [
    "BAD_VERDICTS",
    "MAX_VERDICTS",
    "StoredVerdict",
    "Verdict",
    "VerdictBatch",
    "VerdictCounts",
    "VerdictKind",
    "VerdictList",
    "VerdictWrite",
]

MAX_VERDICTS = 1000  # per request

Id = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_PHRASE_CHARS)
]
Label = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_PHRASE_CHARS)]


class VerdictKind(StrEnum):
    """What the annotator judged: ``absent`` confirms a good negative; ``present`` (it is in the
    image), ``not_similar`` (too easy) and ``implausible`` (nonsense) reject it; ``unsure`` is
    recorded and changes nothing."""

    absent = "absent"
    present = "present"
    not_similar = "not_similar"
    implausible = "implausible"
    unsure = "unsure"


BAD_VERDICTS = frozenset({VerdictKind.present, VerdictKind.not_similar, VerdictKind.implausible})


class Verdict(BaseModel):
    """One verdict. ``id`` makes it idempotent: the same id with the same content is stored once;
    the same id with new content replaces the old verdict (an annotation that was edited)."""

    model_config = ConfigDict(extra="forbid")

    id: Id = Field(description="Caller's id of this verdict; idempotency key.")
    item_id: Id = Field(description="The item (image) the negative was judged on.")
    positive: Phrase = Field(description="The positive the negative was proposed for.")
    negative: Phrase = Field(description="The proposed negative phrase.")
    verdict: VerdictKind
    annotator: Label = Field("", description="Who judged (free text).")
    source: Label = Field("", description="Which tool sent it: review, label-studio, cvat, ...")
    sources: list[Label] = Field(
        default_factory=list, max_length=32, description="Miners that proposed the negative."
    )
    kind: Kind | None = Field(None, description="The negative's kind, when the tool knows it.")
    score: float | None = Field(None, ge=-1, le=1, description="Its similarity score, if known.")
    group: Label = Field(
        "",
        description="Verdicts sent together as one annotation (e.g. label-studio:3:17); "
        "replacing a group replaces all its verdicts.",
    )


class VerdictBatch(BaseModel):
    """Several verdicts in one request (stored in one transaction)."""

    model_config = ConfigDict(extra="forbid")

    verdicts: list[Verdict] = Field(min_length=1, max_length=MAX_VERDICTS)


class StoredVerdict(Verdict):
    """A verdict as stored: with the server's receipt time and its position in the log."""

    received_at: float = Field(description="Server time (Unix seconds) it was first stored.")
    seq: int = Field(description="Order in the store's log (export resumes from it).")


class VerdictWrite(BaseModel):
    """What a write did; every id in ``ids`` is durably stored when this is returned."""

    stored: int = Field(description="New verdicts.")
    duplicates: int = Field(description="Same id, same content: nothing changed.")
    replaced: int = Field(description="Same id, new content: the old one replaced.")
    deleted: int = Field(0, description="Verdicts removed (group replacement or delete).")
    ids: list[str]


class VerdictList(BaseModel):
    verdicts: list[StoredVerdict]


class VerdictCounts(BaseModel):
    """For one (positive, negative): distinct items per verdict, and distinct items with any
    rejecting verdict (``bad``), so an item with two annotators counts once."""

    absent: int = 0
    present: int = 0
    not_similar: int = 0
    implausible: int = 0
    unsure: int = 0
    bad: int = 0

    @property
    def net_bad(self) -> int:
        """Items that rejected it minus items that confirmed it."""
        return self.bad - self.absent
