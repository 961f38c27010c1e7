"""``hardneg batch`` as a user runs it: killed with SIGKILL half-way and rerun, every image comes
out exactly once; an unreachable service is one line and a non-zero exit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hardneg.miners.types import NegativesRequest
from tests.clients.test_batch import coco_file

N = 1000  # images: ~1.5 s of assembly after the kill point on a 2-core box


def _env(index_dir: Path, tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HARDNEG_EMBEDDER": "minilm:all-MiniLM-L6-v2",
        "HARDNEG_MINERS": '["vocabulary"]',
        "HARDNEG_INDEX_DIR": str(index_dir),
        "HARDNEG_FP_STORE_PATH": str(tmp / "fp.sqlite"),
        "HARDNEG_VERDICT_STORE_PATH": str(tmp / "verdicts.sqlite"),
        "HARDNEG_VERIFY_STORE_PATH": str(tmp / "verify.sqlite"),
    }


def _batch(*args: str) -> list[str]:
    return [sys.executable, "-m", "hardneg.clients.cli", "batch", *args]


@pytest.mark.slow
async def test_killed_half_way_and_rerun_writes_every_image_once(
    tmp_path: Path, make_pipeline, index_dir
):
    pipe = make_pipeline()  # builds the session's vocabulary index before the CLI loads it
    await pipe.mine(NegativesRequest.for_concept("zebra", k=3))
    await pipe.aclose()
    src = coco_file(tmp_path / "gt.json", N)  # enough that a kill lands mid-run
    out = tmp_path / "out.jsonl"
    env = _env(index_dir, tmp_path)
    args = _batch(str(src), str(out), "--k", "5", "--chunk", "10")
    proc = subprocess.Popen(args, env=env, cwd=tmp_path, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= 60:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed half-way"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    written = out.read_bytes().count(b"\n")
    assert 60 <= written < N
    res = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    ids = [json.loads(x)["id"] for x in out.read_text().splitlines()]
    assert sorted(ids, key=int) == [str(i) for i in range(1, N + 1)]  # each exactly once
    assert f"({written} already there" in " ".join(res.stdout.split())  # however rich wraps
    # a rerun with nothing left, or with other options (--k): tests/clients/test_batch.py


def test_unreachable_service_is_one_line(tmp_path: Path):
    src = tmp_path / "items.jsonl"
    src.write_text(json.dumps({"id": "a", "positives": ["zebra"]}) + "\n")
    res = subprocess.run(
        _batch(str(src), str(tmp_path / "out.jsonl"), "--url", "http://127.0.0.1:9"),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 2
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    assert "Traceback" not in res.stderr
