"""The LLM miner's versioned prompt, its JSON schema, and validation of what the model returns.

The prompt is data: instructions and few-shot examples come first and never change between
requests, the item comes last as one JSON message, so vLLM's automatic prefix caching reuses the
shared prefix. ``PROMPT_HASH`` covers everything that shapes the answer; it goes into cache keys
and evidence, so editing any of it invalidates cached outputs. Bump ``PROMPT_VERSION`` with it.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hardneg.miners.types import MAX_PHRASE_CHARS, Kind

PROMPT_VERSION = "v1"
MAX_WORDS = 8  # a longer "phrase" is a sentence, not a concept
MAX_CONTEXT_PHRASES = 200  # present/avoid lists are cut here to bound the prompt's length

SYSTEM_PROMPT = """\
You propose hard negatives for training open-vocabulary object detectors and segmenters.
You are given a positive concept that IS in an image, the other concepts present in that image,
concepts to avoid, and how many proposals are wanted. Propose concepts that LOOK similar to the
positive but are NOT in the image, so that a detector must learn to tell them apart.

Rules for every proposal:
1. It shares at least one visual attribute with the positive: colour, shape, type, material,
   pattern or use. Name that attribute in "shared_attribute" (for example "colour: yellow").
2. It is plausible in the same kind of scene.
3. It is not present: never a concept from "present" or "avoid".
4. It is not a synonym, a spelling variant, a part, or a more general category of the positive
   or of any present concept (if "school bus" is present, "bus" and "vehicle" are present too).
5. It is a short noun phrase of 1 to 5 words, lowercase, without articles.
6. "kind" says how it differs from the positive: "colour" (same thing, other colour), "size",
   "pattern", "material", "type" (another kind of thing), "context" (a look-alike from another
   setting or use, such as a toy or a picture) or "other".
7. No duplicates. Give as many proposals as "count" asks for when you can.

Answer with JSON only: {"negatives": [{"phrase": ..., "shared_attribute": ..., "kind": ...}]}."""

# Few-shot pairs: (item as sent, answer). Deliberately unrelated to common test phrases, so a
# model that copies an example is caught by the guard rather than rewarded.
FEW_SHOT: list[tuple[dict[str, Any], list[dict[str, str]]]] = [
    (
        {"positive": "red apple", "present": ["wooden table", "bowl"], "avoid": [], "count": 6},
        [
            {"phrase": "green apple", "shared_attribute": "type: apple", "kind": "colour"},
            {"phrase": "red tomato", "shared_attribute": "colour and round shape", "kind": "type"},
            {"phrase": "pomegranate", "shared_attribute": "colour: red", "kind": "type"},
            {"phrase": "red plum", "shared_attribute": "colour and shape", "kind": "type"},
            {"phrase": "plastic apple", "shared_attribute": "shape: apple", "kind": "material"},
            {"phrase": "red billiard ball", "shared_attribute": "round red", "kind": "context"},
        ],
    ),
    (
        {"positive": "black cat", "present": ["sofa", "cushion"], "avoid": ["kitten"], "count": 5},
        [
            {"phrase": "black dog", "shared_attribute": "colour: black", "kind": "type"},
            {"phrase": "grey cat", "shared_attribute": "type: cat", "kind": "colour"},
            {"phrase": "tabby cat", "shared_attribute": "type: cat", "kind": "pattern"},
            {"phrase": "black rabbit", "shared_attribute": "colour and size", "kind": "type"},
            {
                "phrase": "ceramic cat figurine",
                "shared_attribute": "shape: cat",
                "kind": "material",
            },
        ],
    ),
]

_KINDS = [k.value for k in Kind]

RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "negatives": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "phrase": {"type": "string"},
                    "shared_attribute": {"type": "string"},
                    "kind": {"type": "string", "enum": _KINDS},
                },
                "required": ["phrase", "shared_attribute", "kind"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["negatives"],
    "additionalProperties": False,
}
SCHEMA_NAME = "hard_negatives"


def response_schema(count: int) -> dict[str, Any]:
    """The schema with ``maxItems``: grammar-constrained servers then stop at ``count``."""
    items = {**RESPONSE_SCHEMA["properties"]["negatives"], "maxItems": count}
    return {**RESPONSE_SCHEMA, "properties": {"negatives": items}}


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


PROMPT_HASH = hashlib.sha256(
    _canonical([PROMPT_VERSION, SYSTEM_PROMPT, FEW_SHOT, RESPONSE_SCHEMA]).encode()
).hexdigest()[:16]


def item_message(positive: str, present: list[str], avoid: list[str], count: int) -> str:
    """The item-specific user message: one JSON object, the same shape as the few-shot items."""
    return _canonical(
        {
            "positive": positive,
            "present": present[:MAX_CONTEXT_PHRASES],
            "avoid": avoid[:MAX_CONTEXT_PHRASES],
            "count": count,
        }
    )


def build_messages(
    positive: str, present: list[str], avoid: list[str], count: int
) -> list[dict[str, str]]:
    """Chat messages: system rules, few-shot turns, then the item (last, for prefix caching)."""
    msgs = [{"role": "system", "content": SYSTEM_PROMPT}]
    for item, answer in FEW_SHOT:
        msgs.append({"role": "user", "content": _canonical(item)})
        msgs.append({"role": "assistant", "content": _canonical({"negatives": answer})})
    msgs.append({"role": "user", "content": item_message(positive, present, avoid, count)})
    return msgs


# Words models use for a kind that hardneg names differently; anything else unknown -> other.
KIND_ALIASES = {
    "color": Kind.colour,
    "colours": Kind.colour,
    "colors": Kind.colour,
    "texture": Kind.pattern,
    "category": Kind.type,
    "class": Kind.type,
    "object": Kind.type,
    "scene": Kind.context,
    "use": Kind.context,
    "function": Kind.context,
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f{}\[\]<>]")
_LETTER = re.compile(r"[^\W\d_]")


class Proposal(BaseModel):
    """One entry of the model's answer, validated; invalid ones are dropped and counted."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    phrase: str = Field(min_length=1, max_length=MAX_PHRASE_CHARS)
    shared_attribute: str = Field(min_length=1, max_length=MAX_PHRASE_CHARS)
    kind: Kind = Kind.other

    @field_validator("phrase")
    @classmethod
    def _is_concept(cls, v: str) -> str:
        v = " ".join(v.rstrip(".").split())
        if _CONTROL.search(v) or not _LETTER.search(v):
            raise ValueError("not a noun phrase")
        if len(v.split()) > MAX_WORDS:
            raise ValueError(f"more than {MAX_WORDS} words")
        return v

    @field_validator("kind", mode="before")
    @classmethod
    def _map_kind(cls, v: Any) -> Kind:
        if not isinstance(v, str):
            raise ValueError("kind must be a string")
        word = v.strip().lower()
        if word in _KINDS:
            return Kind(word)
        return KIND_ALIASES.get(word, Kind.other)


class BadOutput(ValueError):
    """The reply is not the JSON the schema asks for (retried once, then reported)."""


_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def parse_reply(content: str | None) -> tuple[list[Proposal], int]:
    """Valid proposals and how many entries were invalid; BadOutput when nothing is parseable."""
    if content is None or not content.strip():
        raise BadOutput("empty reply")
    text = content.strip()
    fenced = _FENCE.match(text)  # servers without schema enforcement sometimes fence the JSON
    if fenced:
        text = fenced.group(1)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadOutput(f"{exc.msg} at char {exc.pos} of {len(text)}") from None
    entries = data.get("negatives") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise BadOutput('no "negatives" list in the reply')
    return validate(entries)


def validate(entries: list[Any]) -> tuple[list[Proposal], int]:
    """The valid proposals among ``entries`` and how many were invalid."""
    valid: list[Proposal] = []
    for entry in entries:
        try:
            valid.append(Proposal.model_validate(entry))
        except ValidationError:
            continue
    return valid, len(entries) - len(valid)


_ARRAY = re.compile(r'"negatives"\s*:\s*\[')


def salvage(content: str | None) -> tuple[list[Proposal], int]:
    """The complete entries at the start of a reply cut off mid-JSON (finish_reason "length")."""
    match = _ARRAY.search(content or "")
    if content is None or match is None:
        return [], 0
    decoder = json.JSONDecoder()
    entries: list[Any] = []
    pos = match.end()
    while True:
        while pos < len(content) and content[pos] in " \t\r\n,":
            pos += 1
        try:
            entry, pos = decoder.raw_decode(content, pos)
        except json.JSONDecodeError:
            break  # the entry the cut went through, or the array's end
        entries.append(entry)
    return validate(entries)
