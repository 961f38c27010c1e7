"""Label Studio label configs and tasks, as hardneg reads and writes them.

The control that receives negatives is a ``Choices`` or ``Taxonomy`` tag (named by
``HARDNEG_LS_CONTROL``, else the first such tag). Its options are dynamic (``value="$negatives"``):
``hardneg annotate push`` writes them into each task's data with the provenance of every negative
(``data.hardneg``), and posts the pre-annotation as a prediction.

- Taxonomy: each negative is a node with the five verdicts as children; the pre-annotation picks
  ``[negative, absent]`` for each; the annotator moves a negative to another verdict.
- Choices (``choice="multiple"``): the pre-annotation ticks every negative; ticked at submit is
  ``absent``, unticked is ``HARDNEG_LS_UNSELECTED_VERDICT`` (``present`` unless set).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any, Literal

from hardneg.miners.errors import InvalidInput
from hardneg.miners.types import Negative, RequestItem
from hardneg.miners.verdicts import VerdictKind

__all__ = [
    "PROVENANCE_FIELD",
    "VERDICT_OPTIONS",
    "Control",
    "LabelConfigError",
    "find_control",
    "item_of",
    "options_for",
    "pre_annotation",
]

PROVENANCE_FIELD = "hardneg"  # task data: what hardneg proposed, per negative
VERDICT_OPTIONS = [
    {"value": v.value.replace("_", " "), "alias": v.value} for v in VerdictKind
]  # Taxonomy children: readable labels, verdict names in results (alias)


class LabelConfigError(InvalidInput):
    """The project's label config has no control hardneg can fill (HTTP 422)."""


@dataclass(frozen=True)
class Control:
    """The control that receives negatives."""

    name: str
    type: Literal["choices", "taxonomy"]
    to_name: str
    options_field: str | None  # task data field of dynamic options (value="$field"), if any


def find_control(label_config: str, name: str) -> Control:
    """The Choices/Taxonomy control called ``name``, else the first one; says what is wrong."""
    try:
        root = ET.fromstring(label_config)
    except ET.ParseError as exc:
        raise LabelConfigError(f"label config is not valid XML: {exc}") from exc
    found = [el for el in root.iter() if el.tag in ("Choices", "Taxonomy")]
    if not found:
        raise LabelConfigError(
            "label config has no Choices or Taxonomy control to put negatives in"
            " (docs/annotation.md has one that works)"
        )
    el = next((e for e in found if e.get("name") == name), found[0])
    kind: Literal["choices", "taxonomy"] = "taxonomy" if el.tag == "Taxonomy" else "choices"
    if kind == "choices" and el.get("choice") != "multiple":
        raise LabelConfigError(
            f'Choices control {el.get("name")!r} must have choice="multiple" (one per negative)'
        )
    value = el.get("value") or ""
    return Control(
        name=el.get("name") or "",
        type=kind,
        to_name=(el.get("toName") or "").split(",")[0],
        options_field=value[1:] if value.startswith("$") else None,
    )


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    if isinstance(value, list):
        return [str(p).strip() for p in value if str(p).strip()]
    return []


def item_of(task: dict[str, Any]) -> RequestItem:
    """The mining item of a task: positives from ``data.positives`` (a list or a comma list) or
    ``data.positive``; ``data.present`` optional; the item id from ``data.item_id``, else
    ``ls-task-<id>``."""
    data = task.get("data") or {}
    if not isinstance(data, dict):
        raise InvalidInput(f"task {task.get('id')}: data is not an object")
    positives = _as_list(data.get("positives")) or _as_list(data.get("positive"))
    if not positives:
        raise InvalidInput(f"task {task.get('id')}: no positive (data.positive or data.positives)")
    item_id = str(data.get("item_id") or f"ls-task-{task.get('id')}")
    return RequestItem.model_validate(
        {"id": item_id, "positives": positives, "present": _as_list(data.get("present"))}
    )


def options_for(control: Control, negatives: list[Negative]) -> list[dict[str, Any]]:
    """Dynamic options for the task data: one per negative (with the verdicts under a Taxonomy)."""
    if control.type == "taxonomy":
        return [{"value": n.phrase, "children": VERDICT_OPTIONS} for n in negatives]
    return [{"value": n.phrase} for n in negatives]


def pre_annotation(control: Control, negatives: list[Negative]) -> list[dict[str, Any]]:
    """The prediction's result: every negative proposed as absent."""
    if control.type == "taxonomy":
        value: dict[str, Any] = {
            "taxonomy": [[n.phrase, VerdictKind.absent.value] for n in negatives]
        }
    else:
        value = {"choices": [n.phrase for n in negatives]}
    return [
        {
            "from_name": control.name,
            "to_name": control.to_name,
            "type": control.type,
            "value": value,
        }
    ]


def provenance(negatives: list[Negative]) -> list[dict[str, Any]]:
    """What the task data keeps about each negative, for the verdicts made on it."""
    return [
        {
            "phrase": n.phrase,
            "for_positive": n.for_positive,
            "sources": n.sources,
            "kind": n.kind.value,
            "score": n.score,
        }
        for n in negatives
    ]
