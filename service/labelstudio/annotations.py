"""Label Studio annotations turned into verdicts (the ``/webhook`` events).

One annotation is one verdict group, ``label-studio:<project>:<annotation id>``: a created or
updated annotation replaces its group's verdicts, a deleted one empties it. A verdict's id is
its group plus the negative, so a redelivered webhook stores nothing twice.
"""

from __future__ import annotations

from typing import Any

from hardneg.miners.errors import InvalidInput
from hardneg.miners.knowledge.normalize import match_key
from hardneg.miners.types import Kind
from hardneg.miners.verdicts import Verdict, VerdictKind
from hardneg.service.labelstudio.config import PROVENANCE_FIELD, Control, find_control, item_of

__all__ = ["group_of", "verdicts_of"]

SOURCE = "label-studio"


def group_of(project_id: Any, annotation_id: Any) -> str:
    return f"{SOURCE}:{project_id}:{annotation_id}"


def _judged(control: Control, result: list[dict[str, Any]], proposed: list[str]) -> dict[str, str]:
    """Negative phrase -> verdict name, from the annotation's result for the control."""
    out: dict[str, str] = {}
    values = [r.get("value") or {} for r in result if r.get("from_name") == control.name]
    if control.type == "taxonomy":
        for value in values:
            for path in value.get("taxonomy") or []:
                if not path:
                    continue
                verdict = str(path[-1]) if len(path) > 1 else VerdictKind.absent.value
                out[str(path[0])] = verdict
        return out
    ticked = {str(c) for value in values for c in value.get("choices") or []}
    for phrase in ticked:
        out[phrase] = VerdictKind.absent.value
    return out | {p: "" for p in proposed if p not in ticked}  # "" = the unselected verdict


def _annotator(user: Any) -> str:
    """Label Studio sends the user's id (or, expanded, the user with an email)."""
    if isinstance(user, dict):
        user = user.get("email") or user.get("id")
    return f"{SOURCE}:{user}" if user not in (None, "") else ""


def verdicts_of(
    payload: dict[str, Any], control_name: str, unselected: VerdictKind
) -> tuple[str, list[Verdict]]:
    """The group and verdicts of one annotation event (``annotation`` + ``task`` + ``project``)."""
    project = payload.get("project") or {}
    annotation = payload.get("annotation") or {}
    task = payload.get("task") or {}
    if not annotation.get("id") or not isinstance(project, dict) or not task:
        raise InvalidInput("annotation event without annotation id, task or project")
    control = find_control(str(project.get("label_config") or ""), control_name)
    group = group_of(project.get("id"), annotation["id"])
    if annotation.get("was_cancelled"):
        return group, []  # a skipped task judges nothing
    item = item_of(task)
    data = task.get("data") or {}
    known = {match_key(str(p.get("phrase"))): p for p in data.get(PROVENANCE_FIELD) or []}
    proposed = [str(p.get("phrase")) for p in known.values()]
    judged = _judged(control, annotation.get("result") or [], proposed)
    annotator = _annotator(annotation.get("completed_by"))
    out = []
    for phrase, name in judged.items():
        try:
            verdict = VerdictKind(name or unselected.value)
        except ValueError as exc:
            raise InvalidInput(f"annotation {annotation['id']}: unknown verdict {name!r}") from exc
        info = known.get(match_key(phrase), {})
        kind = info.get("kind")
        out.append(
            Verdict(
                id=f"{group}:{match_key(phrase)}",
                item_id=item.id,
                positive=str(info.get("for_positive") or item.positives[0]),
                negative=phrase,
                verdict=verdict,
                annotator=annotator,
                source=SOURCE,
                sources=list(info.get("sources") or []),
                kind=Kind(kind) if kind in Kind.__members__ else None,
                score=info.get("score"),
                group=group,
            )
        )
    return group, out
