"""The CVAT serverless function (deploy/cvat/hardneg-negatives/nuclio) against a real hardneg
served over HTTP. Nuclio's runtime is not here: ``FakeContext`` stands in for the context object
nuclio passes (logger, Response, user_data)."""

from __future__ import annotations

import importlib.util
import json
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from tests.procs import free_port, wait_port

FUNCTION = Path(__file__).parents[2] / "deploy" / "cvat" / "hardneg-negatives" / "nuclio"


def _load_main():
    spec = importlib.util.spec_from_file_location("cvat_hardneg_main", FUNCTION / "main.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeContext:
    """Stands in for nuclio's handler context: a logger that keeps lines, a Response type."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.user_data = SimpleNamespace()
        self.logger = SimpleNamespace(
            info=self.lines.append, warn=self.lines.append, error=self.lines.append
        )

    @staticmethod
    def Response(body, headers, content_type, status_code):
        return SimpleNamespace(body=body, content_type=content_type, status_code=status_code)


@pytest.fixture(scope="module")
def hardneg_url(make_pipeline):
    import uvicorn

    from hardneg.service.app import create_app

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(pipeline=make_pipeline()), port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_port(port, timeout_s=60)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def _deploy(tmp_path, monkeypatch, labels, url):
    config = yaml.safe_load((FUNCTION / "function.yaml").read_text())
    config["metadata"]["annotations"]["spec"] = json.dumps(
        [{"id": i, "name": n, "type": "tag"} for i, n in enumerate(labels)]
    )
    path = tmp_path / "function.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("HARDNEG_FUNCTION_YAML", str(path))
    monkeypatch.setenv("HARDNEG_URL", url)
    monkeypatch.setenv("HARDNEG_POSITIVES", "yellow school bus")
    monkeypatch.setenv("HARDNEG_K", "20")
    main = _load_main()
    ctx = FakeContext()
    main.init_context(ctx)
    return main, ctx


def test_shipped_spec_is_what_cvat_reads():
    config = yaml.safe_load((FUNCTION / "function.yaml").read_text())
    assert config["metadata"]["annotations"]["type"] == "detector"
    assert config["spec"]["handler"] == "main:handler"
    names = _load_main().spec_labels(str(FUNCTION / "function.yaml"))
    assert names and len(names) == len(set(names))


@pytest.mark.slow
def test_tags_for_task_labels_and_the_dropped_ones_said(hardneg_url, tmp_path, monkeypatch):
    main = _load_main()
    found = main.negatives(hardneg_url, "yellow school bus", 20)
    phrases = [n["phrase"] for n in found]
    labels = [phrases[0], phrases[3], "unicorn", phrases[1].upper()]  # exact names only
    main, ctx = _deploy(tmp_path, monkeypatch, labels, hardneg_url)
    resp = main.handler(ctx, SimpleNamespace(body=json.dumps({"image": "aGk=", "threshold": 0})))
    assert resp.status_code == 200
    got = json.loads(resp.body)
    assert [t["label"] for t in got] == [phrases[0], phrases[3]]
    assert all(t["type"] == "tag" and 0 < t["confidence"] <= 1 for t in got)
    said = ctx.lines[-1]
    assert f"{len(phrases) - 2} negatives dropped" in said
    assert f"{phrases[1]!r} (not a label of the task)" in said

    high = max(t["confidence"] for t in got)
    resp = main.handler(ctx, SimpleNamespace(body={"image": "aGk=", "threshold": high}))
    # confidence is hardneg's similarity score; the order is hardneg's ranking (P(hard) with the
    # offline default), so the tags at the top confidence are not necessarily the first
    assert [t["label"] for t in json.loads(resp.body)] == [
        t["label"] for t in got if t["confidence"] >= high
    ]
    assert "under threshold" in ctx.lines[-1]


def test_no_positive_is_400_and_hardneg_down_is_503(tmp_path, monkeypatch):
    main, ctx = _deploy(tmp_path, monkeypatch, ["tram"], f"http://127.0.0.1:{free_port()}")
    down = main.handler(ctx, SimpleNamespace(body=b'{"image": "aGk="}'))
    assert down.status_code == 503 and "hardneg unavailable" in json.loads(down.body)["error"]
    monkeypatch.setenv("HARDNEG_POSITIVES", "")
    none = main.handler(ctx, SimpleNamespace(body=b'{"image": "aGk="}'))
    assert none.status_code == 400 and "HARDNEG_POSITIVES" in json.loads(none.body)["error"]
