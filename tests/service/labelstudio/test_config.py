"""Label configs and annotations without a server: the Choices variant (ticked = absent,
unticked = the configured verdict), control lookup, task reading."""

from __future__ import annotations

import copy
import json

import pytest

from hardneg.clients.cli.annotate import CHOICES_CONFIG, TAXONOMY_CONFIG
from hardneg.miners.errors import InvalidInput
from hardneg.miners.types import Kind, Negative
from hardneg.miners.verdicts import VerdictKind
from hardneg.service.labelstudio.annotations import verdicts_of
from hardneg.service.labelstudio.config import (
    LabelConfigError,
    find_control,
    item_of,
    options_for,
    pre_annotation,
    provenance,
)
from tests.service.labelstudio.conftest import RECORDED

NEGS = [
    Negative(
        phrase=p,
        score=0.5,
        for_positive="yellow school bus",
        kind=Kind.type,
        sources=["vocabulary"],
    )
    for p in ("yellow taxi", "school van", "tram")
]


def _created_event(label_config: str, result: list[dict]) -> dict:
    """The recorded ANNOTATION_CREATED event with another config, task data and result."""
    events = [e for e in json.loads(RECORDED.read_text()) if e["path"] == "/webhook"]
    event = copy.deepcopy(events[1]["request"])
    control = find_control(label_config, "negatives")
    event["project"]["label_config"] = label_config
    event["task"]["data"]["negatives"] = options_for(control, NEGS)
    event["task"]["data"]["hardneg"] = provenance(NEGS)
    event["annotation"]["result"] = result
    return event


def test_choices_ticked_absent_unticked_present():
    control = find_control(CHOICES_CONFIG, "negatives")
    assert (control.type, control.to_name, control.options_field) == (
        "choices",
        "image",
        "negatives",
    )
    (pre,) = pre_annotation(control, NEGS)
    assert pre["value"] == {"choices": ["yellow taxi", "school van", "tram"]}
    pre["value"]["choices"] = ["school van", "tram"]  # the annotator unticked the taxi
    group, verdicts = verdicts_of(
        _created_event(CHOICES_CONFIG, [pre]), "negatives", VerdictKind.present
    )
    got = {v.negative: v.verdict.value for v in verdicts}
    assert got == {"yellow taxi": "present", "school van": "absent", "tram": "absent"}
    assert all(
        v.group == group and v.sources == ["vocabulary"] and v.kind == Kind.type for v in verdicts
    )
    _, other = verdicts_of(_created_event(CHOICES_CONFIG, [pre]), "negatives", VerdictKind.unsure)
    assert {v.negative: v.verdict.value for v in other}["yellow taxi"] == "unsure"


def test_taxonomy_unknown_verdict_and_skipped_task():
    result = [
        {
            "from_name": "negatives",
            "to_name": "image",
            "type": "taxonomy",
            "value": {"taxonomy": [["tram", "maybe"]]},
        }
    ]
    with pytest.raises(InvalidInput, match="unknown verdict 'maybe'"):
        verdicts_of(_created_event(TAXONOMY_CONFIG, result), "negatives", VerdictKind.present)
    skipped = _created_event(TAXONOMY_CONFIG, [])
    skipped["annotation"]["was_cancelled"] = True
    assert verdicts_of(skipped, "negatives", VerdictKind.present)[1] == []


def test_control_lookup_and_its_errors():
    two = TAXONOMY_CONFIG.replace(
        "</View>",
        CHOICES_CONFIG.split("\n")[3].replace('name="negatives"', 'name="other"') + "</View>",
    )
    assert find_control(two, "other").type == "choices"
    assert find_control(two, "missing").name == "negatives"  # the first one
    with pytest.raises(LabelConfigError, match="multiple"):
        find_control('<View><Choices name="n" toName="i"/></View>', "n")
    with pytest.raises(LabelConfigError, match="no Choices or Taxonomy"):
        find_control("<View/>", "n")


def test_tasks_are_read_leniently_but_need_a_positive():
    item = item_of({"id": 9, "data": {"positives": "zebra, horse", "present": ["grass"]}})
    assert (item.id, item.positives, item.present) == ("ls-task-9", ["zebra", "horse"], ["grass"])
    with pytest.raises(InvalidInput, match="no positive"):
        item_of({"id": 3, "data": {"image": "x.jpg"}})
