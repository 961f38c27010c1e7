"""Domain types shared by the service, the miners and the clients.

This module imports only pydantic: a training job that uses ``hardneg.clients`` must not pull in
FastAPI, torch or faiss. The wire contract of ``POST /v1/negatives`` is defined here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    WithJsonSchema,
)

MAX_PHRASE_CHARS = 200
MAX_ITEMS = 1000
MAX_K = 200
MAX_IMAGE_CHARS = 16_000_000  # base64 of a ~12 MB image; HARDNEG_IMAGE_MAX_BYTES is the real cap
DEFAULT_K = 30
MAX_MINER_NAME_CHARS = 64

# Characters a phrase or id may not carry: C0/C1 controls (tab, newline and CR are whitespace
# and allowed) and the Unicode bidirectional controls, which make a phrase display as
# something else ("Trojan Source"). Rejected with a message, never echoed back.
FORBIDDEN_CHARS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_FORBIDDEN_RE = re.compile(f"[{FORBIDDEN_CHARS}]")
# Invisible characters that copy-paste leaves inside words (zero-width space, word joiner,
# byte-order mark, soft hyphen): stripped, so "school\u200bbus" is "schoolbus". Zero-width
# (non-)joiners stay: they are meaningful in Persian, Indic scripts and emoji.
_STRIPPED_RE = re.compile("[\u200b\u2060\ufeff\u00ad]")
# The schema's form of the rule below (ECMA-262 with Unicode classes, as JSON Schema has it).
PHRASE_PATTERN = f"^[^{FORBIDDEN_CHARS}]*[\\p{{L}}\\p{{N}}][^{FORBIDDEN_CHARS}]*$"


def _forbidden(value: str, what: str) -> None:
    bad = _FORBIDDEN_RE.search(value)
    if bad is not None:
        raise ValueError(
            f"{what} contains the control or bidirectional character U+{ord(bad.group()):04X}"
            f" at position {bad.start()}; remove it"
        )


def clean_phrase(value: str) -> str:
    """The phrase as the service uses it: invisible characters stripped, then whitespace.

    Rejects (ValueError, HTTP 422) a phrase over MAX_PHRASE_CHARS, one with a control or
    bidirectional character, and one with no letter or digit (``"!!!"``, ``"\u200b"``): it
    would be empty once normalised, so nothing could be mined for it.
    """
    if len(value) > MAX_PHRASE_CHARS:
        raise ValueError(f"phrase is longer than {MAX_PHRASE_CHARS} characters")
    _forbidden(value, "phrase")
    cleaned = _STRIPPED_RE.sub("", value).strip()
    if not cleaned:
        raise ValueError("phrase is empty")
    if not any(unicodedata.category(ch)[0] in "LN" for ch in cleaned):
        raise ValueError(f"phrase {cleaned!r} has no letter or digit: it is empty once normalised")
    return cleaned


def _clean_id(value: str) -> str:
    _forbidden(value, "id")
    return value


Phrase = Annotated[
    str,
    AfterValidator(clean_phrase),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_PHRASE_CHARS,
            "pattern": PHRASE_PATTERN,
            "description": "A concept: at least one letter or digit; no control or"
            " bidirectional characters (zero-width spaces are stripped).",
        }
    ),
]
ItemId = Annotated[
    str,
    StringConstraints(max_length=MAX_PHRASE_CHARS),
    AfterValidator(_clean_id),
    WithJsonSchema(
        {"type": "string", "maxLength": MAX_PHRASE_CHARS, "pattern": f"^[^{FORBIDDEN_CHARS}]*$"}
    ),
]
MinerName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_MINER_NAME_CHARS, pattern=r"^[A-Za-z0-9_.\-]+$"),
]
# JSON numbers only: "5" and true are not a k (pydantic's lax mode would take them).
StrictK = Annotated[int, Strict(), Field(ge=1, le=MAX_K)]
Similarity = Annotated[float, Strict(), Field(ge=-1.0, le=1.0)]


class Kind(StrEnum):
    """How a negative differs from its positive."""

    colour = "colour"
    size = "size"
    pattern = "pattern"
    material = "material"
    type = "type"
    context = "context"
    other = "other"


MinerState = Literal["ok", "error", "timeout", "disabled"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RequestItem(_Strict):
    """One image (or one bare concept) to mine negatives for."""

    id: ItemId = Field(default="", description="Caller's item id.")
    positives: list[Phrase] = Field(min_length=1, max_length=64)
    present: list[Phrase] = Field(default_factory=list, max_length=512)
    exclude: list[Phrase] = Field(default_factory=list, max_length=512)
    image: Annotated[str | None, WithJsonSchema({"type": "null"})] = Field(
        default=None,
        min_length=1,
        max_length=MAX_IMAGE_CHARS,
        description=(
            "The item's image, for image-conditioned ranking: an http(s) URL (its host must be in"
            " HARDNEG_IMAGE_URL_HOSTS), a path under HARDNEG_IMAGE_ROOT (relative, absolute, or a"
            " file: URI), or the image's bytes in base64 (a data:image/...;base64, URI, or bare"
            " base64). A bad image is a 422 that says why, before any mining."
        ),
    )


class MineOptions(_Strict):
    """Options that apply to every item of a request."""

    k: StrictK | None = Field(
        default=None,
        description=f"Most negatives per item; null = the service's HARDNEG_DEFAULT_K ({DEFAULT_K} unless set).",
    )
    miners: list[MinerName] | None = Field(
        default=None, description="null = every enabled miner, else a subset by name."
    )
    min_similarity: Similarity | None = None
    max_similarity: Similarity | None = None


class NegativesRequest(MineOptions):
    """Body of ``POST /v1/negatives``."""

    items: list[RequestItem] = Field(min_length=1, max_length=MAX_ITEMS)

    def options(self) -> MineOptions:
        return MineOptions(
            k=self.k,
            miners=self.miners,
            min_similarity=self.min_similarity,
            max_similarity=self.max_similarity,
        )

    @classmethod
    def for_concept(
        cls,
        concept: str,
        *,
        present: Sequence[str] = (),
        exclude: Sequence[str] = (),
        item_id: str = "",
        k: int | None = None,
        miners: Sequence[str] | None = None,
        min_similarity: float | None = None,
        max_similarity: float | None = None,
    ) -> NegativesRequest:
        """A one-item request for one bare concept (GET route, CLI, clients). Raises pydantic's
        ValidationError on bad input, like any request."""
        return cls.model_validate(
            {
                "items": [
                    {
                        "id": item_id,
                        "positives": [concept],
                        "present": list(present),
                        "exclude": list(exclude),
                    }
                ],
                "k": k,
                "miners": None if miners is None else list(miners),
                "min_similarity": min_similarity,
                "max_similarity": max_similarity,
            }
        )


class Candidate(BaseModel):
    """A phrase a miner proposes as a negative for one positive, with its evidence."""

    phrase: str
    for_positive: str
    source: str
    kind: Kind = Kind.other
    score: float | None = Field(default=None, description="Miner's own score, if any.")
    evidence: dict[str, Any] = Field(default_factory=dict)


class Negative(BaseModel):
    """A negative as returned to the caller."""

    phrase: str
    score: float = Field(description="Similarity of the negative to its positive (embedder's).")
    for_positive: str
    kind: Kind
    sources: list[str]
    evidence: dict[str, Any] = Field(default_factory=dict, description="Per source: why.")


class MinerStatus(BaseModel):
    status: MinerState
    candidates: int = 0
    ms: float = 0.0
    error: str | None = None
    note: str | None = Field(default=None, description="Why fewer results, when that happened.")


class ItemResult(BaseModel):
    id: str
    negatives: list[Negative]
    miners: dict[str, MinerStatus]
    cached: bool = False
    degraded: bool = False


class NegativesResponse(BaseModel):
    items: list[ItemResult]
    embedder: str
    versions: dict[str, str]


class ErrorBody(BaseModel):
    message: str
    type: str
    code: int


class ErrorResponse(BaseModel):
    """The one error body shape of the API."""

    error: ErrorBody


def describe_errors(errors: Sequence[Any]) -> str:
    """One readable line from pydantic's error list: 'items.0.positives: List should have...'."""
    parts = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        msg = str(err.get("msg", "invalid"))
        if err.get("type") == "json_invalid":
            ctx = err.get("ctx") or {}
            msg = f"malformed JSON: {ctx.get('error', msg)}"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or "invalid request"
