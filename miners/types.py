"""Domain types shared by the service, the miners and the clients.

This module imports only pydantic: a training job that uses ``hardneg.clients`` must not pull in
FastAPI, torch or faiss. The wire contract of ``POST /v1/negatives`` is defined here.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

MAX_PHRASE_CHARS = 200
MAX_ITEMS = 1000
MAX_K = 200
MAX_IMAGE_CHARS = 16_000_000  # base64 of a ~12 MB image; HARDNEG_IMAGE_MAX_BYTES is the real cap
DEFAULT_K = 30

Phrase = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_PHRASE_CHARS),
]


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

    id: str = Field(default="", max_length=MAX_PHRASE_CHARS, description="Caller's item id.")
    positives: list[Phrase] = Field(min_length=1, max_length=64)
    present: list[Phrase] = Field(default_factory=list, max_length=512)
    exclude: list[Phrase] = Field(default_factory=list, max_length=512)
    image: str | None = Field(
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

    k: int | None = Field(
        default=None,
        ge=1,
        le=MAX_K,
        description=f"Most negatives per item; null = the service's HARDNEG_DEFAULT_K ({DEFAULT_K} unless set).",
    )
    miners: list[str] | None = Field(
        default=None, description="null = every enabled miner, else a subset by name."
    )
    min_similarity: float | None = Field(default=None, ge=-1.0, le=1.0)
    max_similarity: float | None = Field(default=None, ge=-1.0, le=1.0)


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
