"""The service's other endpoints as (method, path, request options), shared by the sync and the
async client so both speak them identically. Answers are the JSON bodies (dicts), documented
at ``/docs``; wire models for verdicts live in ``hardneg.miners.verdicts``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

Call = tuple[str, str, dict[str, Any]]


def _dump(v: BaseModel | dict[str, Any]) -> dict[str, Any]:
    return v.model_dump(mode="json", exclude_none=True) if isinstance(v, BaseModel) else v


def post_verdicts(verdicts: Sequence[BaseModel | dict[str, Any]]) -> Call:
    """``POST /v1/verdicts``: store a batch of human verdicts (idempotent by id)."""
    return "POST", "/v1/verdicts", {"json": {"verdicts": [_dump(v) for v in verdicts]}}


def verdicts(item_id: str | None, positive: str | None, limit: int) -> Call:
    """``GET /v1/verdicts``: the verdicts on one item, or for one positive."""
    params: dict[str, Any] = {"limit": limit}
    params |= {"item_id": item_id} if item_id is not None else {"positive": positive}
    return "GET", "/v1/verdicts", {"params": params}


def delete_verdict(verdict_id: str) -> Call:
    return "DELETE", f"/v1/verdicts/{verdict_id}", {}


def export_verdicts(since: int) -> Call:
    """``GET /v1/verdicts/export``: JSON Lines, one verdict a line (resume with ``since``)."""
    return "GET", "/v1/verdicts/export", {"params": {"since": since}}


def stats() -> Call:
    return "GET", "/v1/stats", {}


def false_positive_rounds() -> Call:
    return "GET", "/v1/false-positives/rounds", {}


def verify_rounds() -> Call:
    return "GET", "/v1/verify/rounds", {}


def verify_round(name: str) -> Call:
    return "GET", f"/v1/verify/rounds/{name}", {}


def verify_held(limit: int) -> Call:
    return "GET", "/v1/verify/held", {"params": {"limit": limit}}
