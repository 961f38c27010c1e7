"""Drives a real Label Studio with label-studio-sdk, one step per call (JSON out on stdout).

Runs with the Python of Label Studio's own venv (deploy/labelstudio/install.sh), never hardneg's:
``python ls_driver.py URL TOKEN STEP JSON_ARGS``. The opt-in test calls it step by step.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from label_studio_sdk import LabelStudio


def setup(ls: LabelStudio, args: dict[str, Any]) -> dict[str, Any]:
    """A project with the label config, hardneg connected as its ML backend, tasks imported."""
    project = ls.projects.create(title=args["title"], label_config=args["label_config"])
    backend = ls.ml.create(project=project.id, url=args["ml_url"], title="hardneg")
    ls.projects.import_tasks(id=project.id, request=args["tasks"])
    tasks = [t.id for t in ls.tasks.list(project=project.id)]
    return {"project": project.id, "ml_backend": backend.id, "tasks": tasks}


def retrieve_predictions(ls: LabelStudio, args: dict[str, Any]) -> dict[str, Any]:
    """The Data Manager action "Retrieve predictions": Label Studio calls /predict."""
    ls.actions.create(
        id="retrieve_tasks_predictions", project=args["project"], selected_items={"all": True}
    )
    return predictions(ls, args)


def predictions(ls: LabelStudio, args: dict[str, Any]) -> dict[str, Any]:
    preds = ls.predictions.list(project=args["project"])
    return {
        "predictions": [
            {"task": p.task, "model_version": p.model_version, "result": p.result} for p in preds
        ]
    }


def task(ls: LabelStudio, args: dict[str, Any]) -> dict[str, Any]:
    return {"data": ls.tasks.get(id=args["task"]).data}


def annotate(ls: LabelStudio, args: dict[str, Any]) -> dict[str, Any]:
    ann = ls.annotations.create(id=args["task"], result=args["result"])
    return {"annotation": ann.id}


def update(ls: LabelStudio, args: dict[str, Any]) -> dict[str, Any]:
    ls.annotations.update(id=args["annotation"], result=args["result"])
    return {"annotation": args["annotation"]}


def delete(ls: LabelStudio, args: dict[str, Any]) -> dict[str, Any]:
    ls.annotations.delete(id=args["annotation"])
    return {"deleted": args["annotation"]}


STEPS = {
    f.__name__: f
    for f in (setup, retrieve_predictions, predictions, task, annotate, update, delete)
}

if __name__ == "__main__":
    url, token, step, raw = sys.argv[1:5]
    client = LabelStudio(base_url=url, api_key=token)
    print(json.dumps(STEPS[step](client, json.loads(raw)), default=str))
