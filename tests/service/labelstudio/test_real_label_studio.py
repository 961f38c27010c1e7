"""Against a REAL Label Studio server (opt-in: ``bash deploy/labelstudio/run_real.sh``, minutes):
a project with the documented label config, hardneg connected as its ML backend, tasks imported,
predictions fetched through /predict, ``hardneg annotate push`` (twice: it resumes), an annotation
submitted, updated and deleted, and each change arriving through /webhook as verdicts. The
exchanges are saved for the replay tests that CI runs (HARDNEG_TEST_LS_RECORD)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from hardneg.clients.cli.annotate import TAXONOMY_CONFIG
from tests.service.labelstudio.conftest import RECORDED, run_cli

pytestmark = [
    pytest.mark.labelstudio,
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("HARDNEG_TEST_LS_VENV"),
        reason="opt-in: bash deploy/labelstudio/run_real.sh (a real Label Studio server)",
    ),
]

TASKS = [
    {
        "image": "http://images.example/bus.jpg",
        "positive": "yellow school bus",
        "present": ["road"],
        "item_id": "img-1",
        "negatives": [],
    },
    {
        "image": "http://images.example/zebra.jpg",
        "positive": "zebra",
        "item_id": "img-2",
        "negatives": [],
    },
    {"image": "http://images.example/violin.jpg", "positive": "violin", "negatives": []},
]


def _verdicts(url: str, item_id: str, want: int, timeout_s: float = 30) -> list[dict]:
    """The item's verdicts once there are ``want`` of them (webhooks arrive asynchronously)."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = httpx.get(url + "/v1/verdicts", params={"item_id": item_id}).json()["verdicts"]
        if len(got) == want or time.monotonic() > deadline:
            return got
        time.sleep(0.3)


def test_real_label_studio_round_trip(served, label_studio, index_dir, tmp_path: Path):
    ls = label_studio
    made = ls.drive(
        "setup",
        title="hardneg negatives",
        label_config=TAXONOMY_CONFIG,
        ml_url=served.url + "/labelstudio",
        tasks=TASKS,
    )
    project, tasks = made["project"], made["tasks"]
    paths = [(e["method"], e["path"]) for e in served.recorder.exchanges]
    assert ("POST", "/setup") in paths and ("GET", "/health") in paths, paths

    preds = ls.drive("retrieve_predictions", project=project)["predictions"]
    assert sorted(p["task"] for p in preds) == sorted(tasks), preds
    assert all(p["model_version"].startswith("hardneg:") for p in preds)
    first = preds[0]["result"][0]
    assert first["from_name"] == "negatives" and first["type"] == "taxonomy"
    assert all(path[1] == "absent" for path in first["value"]["taxonomy"])

    env = {"HARDNEG_INDEX_DIR": str(index_dir), "HARDNEG_MINERS": '["vocabulary"]'}
    args = [
        "annotate",
        "push",
        "--project",
        str(project),
        "--ls-url",
        ls.url,
        "--token",
        ls.personal_token,
        "--url",
        served.url,
        "-k",
        "8",
    ]
    pushed = run_cli(args, env)
    assert pushed.returncode == 0, pushed.stderr
    assert f"project {project}: 3 tasks pushed, 0 already done" in pushed.stdout
    again = run_cli(args, env)
    assert "0 tasks pushed, 3 already done" in again.stdout, again.stdout + again.stderr

    bus = min(tasks)
    data = ls.drive("task", task=bus)["data"]
    phrases = [o["value"] for o in data["negatives"]]
    assert len(phrases) == 8 and data["hardneg"][0]["phrase"] == phrases[0]
    assert [c["alias"] for c in data["negatives"][0]["children"]][:2] == ["absent", "present"]

    result = [
        {
            "from_name": "negatives",
            "to_name": "image",
            "type": "taxonomy",
            "value": {
                "taxonomy": [
                    [phrases[0], "present"],
                    [phrases[1], "implausible"],
                    [phrases[2], "absent"],
                ]
            },
        }
    ]
    ann = ls.drive("annotate", task=bus, result=result)["annotation"]
    got = _verdicts(served.url, "img-1", 3)
    assert sorted((v["negative"], v["verdict"]) for v in got) == sorted(
        [(phrases[0], "present"), (phrases[1], "implausible"), (phrases[2], "absent")]
    )
    assert all(v["source"] == "label-studio" and v["sources"] for v in got)

    result[0]["value"]["taxonomy"] = [[phrases[0], "absent"], [phrases[1], "implausible"]]
    ls.drive("update", annotation=ann, result=result)
    deadline = time.monotonic() + 30
    while True:
        got = _verdicts(served.url, "img-1", 2)
        now = sorted((v["negative"], v["verdict"]) for v in got)
        if now == sorted([(phrases[0], "absent"), (phrases[1], "implausible")]):
            break
        assert time.monotonic() < deadline, now
        time.sleep(0.3)

    ls.drive("delete", annotation=ann)
    assert _verdicts(served.url, "img-1", 0) == []

    actions = {
        e["request"].get("action")
        for e in served.recorder.exchanges
        if e["path"] == "/webhook" and isinstance(e["request"], dict)
    }
    assert {"ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED"} <= actions
    served.recorder.save(Path(os.environ.get("HARDNEG_TEST_LS_RECORD") or tmp_path / "x.json"))
    print(f"recorded {len(served.recorder.exchanges)} exchanges; replay file {RECORDED}")
