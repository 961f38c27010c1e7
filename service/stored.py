"""How answers are stored in the cache, and which keys a request needs.

A mined positive is stored as the answer of a bare item with it (an ``ItemResult`` without id and
``cached``, spliced into responses as it is), a record separator, then its ``PositiveResult`` (for
items with present concepts, exclusions, several positives or steps). An item's whole answer is
stored the bare way, without the separator. Values in another format are recomputed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from hardneg.miners.knowledge import normalize
from hardneg.miners.types import ItemResult, RequestItem
from hardneg.service.assemble import Assembler, PositiveResult
from hardneg.service.mining import Resolved

CACHE_SCHEMA = 2  # bump when the stored format changes
STORED_PREFIX = b'{"negatives":'  # how a stored answer starts
RS = b"\x1e"  # never in JSON text: control characters are escaped there


@dataclass
class Plan:
    """What one request needs from the cache: per item, the key of its whole answer (None when
    an item step applies: it is assembled on every request) and its positives' keys."""

    res: Resolved
    assembler: Assembler
    answer_keys: list[str | None] = field(default_factory=list)
    positive_keys: list[list[str]] = field(default_factory=list)
    positive_of: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (phrase, id)


def item_payload(item: RequestItem, item_id: str) -> dict[str, Any]:
    return {
        "positives": [normalize(p) for p in item.positives],
        "present": sorted({normalize(p) for p in item.present}),
        "exclude": sorted({normalize(p) for p in item.exclude}),
        "id": item_id,
    }


def from_store(item: RequestItem, raw: bytes | None, parse: bool) -> ItemResult | bytes | None:
    """A stored answer as this item's JSON (or model); None when absent or unreadable."""
    if raw is None or not raw.startswith(STORED_PREFIX):
        return None
    spliced = splice(item.id, bare_part(raw))
    if not parse:
        return spliced
    try:
        return ItemResult.model_validate_json(spliced)
    except ValueError:
        return None  # an unreadable entry is rebuilt, not served


def splice(item_id: str, stored: bytes) -> bytes:
    """A stored item (no id, no cached flag) as this request's item JSON."""
    return b'{"id":' + json.dumps(item_id).encode() + b',"cached":true,' + stored[1:]


def bare_part(stored: bytes) -> bytes:
    cut = stored.find(RS)
    return stored if cut < 0 else stored[:cut]


def readable(raw: bytes | None) -> bool:
    """A stored positive in the current format (older or foreign values are recomputed)."""
    return raw is not None and raw.startswith(STORED_PREFIX) and RS in raw


@lru_cache(maxsize=1024)
def positive_of(raw: bytes) -> PositiveResult:
    """A stored positive, parsed once per distinct value: a batch assembles thousands of items
    from a few positives' results (the assembler copies the lists it edits, never the models)."""
    return PositiveResult.model_validate_json(raw[raw.index(RS) + 1 :])


def positive_record(bare: ItemResult, result: PositiveResult) -> bytes:
    """The stored form of a mined positive."""
    return (
        bare.model_dump_json(exclude={"id", "cached"}).encode()
        + RS
        + result.model_dump_json().encode()
    )
