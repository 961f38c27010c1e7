"""CVAT serverless detector (nuclio) returning hardneg's negatives as CVAT ``tag`` results.

CVAT sends ``{"image": <base64>, "threshold": <float>}`` and keeps only results whose ``label``
maps to one of the task's labels; names it does not know it drops without a word. So this
handler matches hardneg's phrases exactly against the labels in this function's ``spec`` (set it
to the task's labels), returns the matches as tags, and logs the negatives it dropped and why.

The image's positives come from the request's ``positives`` (a direct or SDK call) or from
``HARDNEG_POSITIVES`` (comma-separated; one function per concept under review). Standard library
plus PyYAML (to read the spec), as nuclio's Python runtime has.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

FUNCTION_YAML = os.environ.get("HARDNEG_FUNCTION_YAML", "/opt/nuclio/function.yaml")


def spec_labels(path: str = FUNCTION_YAML) -> list[str]:
    """The label names this function declares to CVAT (its ``spec``)."""
    import yaml

    with open(path, encoding="utf-8") as fh:
        config = yaml.safe_load(fh)
    return [str(item["name"]) for item in json.loads(config["metadata"]["annotations"]["spec"])]


def init_context(context: Any) -> None:
    context.user_data.labels = spec_labels()
    context.logger.info(f"hardneg-negatives: {len(context.user_data.labels)} labels")


def negatives(url: str, positive: str, k: int, key: str = "") -> list[dict[str, Any]]:
    """hardneg's negatives for one positive (``GET /v1/negatives``)."""
    query = urllib.parse.urlencode({"concept": positive, "k": k})
    req = urllib.request.Request(f"{url.rstrip('/')}/v1/negatives?{query}")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(req, timeout=50) as resp:
        body = json.loads(resp.read())
    return list(body["items"][0]["negatives"])


def tags(
    found: list[dict[str, Any]], labels: list[str], threshold: float
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """CVAT tag results for negatives whose phrase is exactly a label name, and the dropped
    phrases with the reason (not a task label, or under the threshold)."""
    known = set(labels)
    out: list[dict[str, Any]] = []
    dropped: dict[str, str] = {}
    for neg in found:
        phrase, score = str(neg["phrase"]), float(neg["score"])
        if phrase not in known:
            dropped[phrase] = "not a label of the task"
        elif score < threshold:
            dropped[phrase] = f"score {score:.2f} under threshold {threshold:.2f}"
        elif phrase not in {t["label"] for t in out}:
            out.append(
                {"confidence": round(score, 4), "label": phrase, "type": "tag", "attributes": []}
            )
    return out, dropped


def _positives(body: dict[str, Any]) -> list[str]:
    given = body.get("positives") or os.environ.get("HARDNEG_POSITIVES", "")
    if isinstance(given, str):
        given = given.split(",")
    return [p.strip() for p in given if str(p).strip()]


def handler(context: Any, event: Any) -> Any:
    body = event.body if isinstance(event.body, dict) else json.loads(event.body or b"{}")
    positives = _positives(body)
    if not positives:
        message = "no positives: set HARDNEG_POSITIVES or send positives"
        return context.Response(
            body=json.dumps({"error": message}),
            headers={},
            content_type="application/json",
            status_code=400,
        )
    url = os.environ.get("HARDNEG_URL", "http://hardneg:8000")
    k = int(os.environ.get("HARDNEG_K", "200"))
    found: list[dict[str, Any]] = []
    try:
        for positive in positives:
            found += negatives(url, positive, k, os.environ.get("HARDNEG_API_KEY", ""))
    except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
        context.logger.error(f"hardneg at {url} failed: {exc}")
        return context.Response(
            body=json.dumps({"error": f"hardneg unavailable: {exc}"}),
            headers={},
            content_type="application/json",
            status_code=503,
        )
    results, dropped = tags(found, context.user_data.labels, float(body.get("threshold") or 0))
    if dropped:
        context.logger.warn(
            f"{len(dropped)} negatives dropped: "
            + "; ".join(f"{p!r} ({why})" for p, why in sorted(dropped.items()))
        )
    return context.Response(
        body=json.dumps(results), headers={}, content_type="application/json", status_code=200
    )
