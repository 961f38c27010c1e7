"""The ``hardneg`` command line, run as a user runs it (a subprocess with its own environment)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hardneg.miners.knowledge.normalize import match_key


def _run(args: list[str], env_extra: dict[str, str], timeout: int = 300):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **env_extra}
    env.pop("HARDNEG_REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "hardneg.clients.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory, index_dir) -> dict[str, str]:
    return {
        "HARDNEG_INDEX_DIR": str(index_dir),
        "HARDNEG_MINERS": '["vocabulary"]',
        # CLI behaviour, not quality: every candidate the guard lets through (no quality floor)
        "HARDNEG_QUALITY_FLOOR": "0",
        "HARDNEG_FP_STORE_PATH": str(tmp_path_factory.mktemp("fp") / "fp.sqlite"),
    }


@pytest.mark.slow
def test_mine_json_on_the_embedded_default(cli_env):
    out = _run(["mine", "yellow school bus", "--present", "road", "-k", "12", "--json"], cli_env)
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    negs = body["items"][0]["negatives"]
    assert len(negs) == 12
    assert not {match_key(n["phrase"]) for n in negs} & {
        match_key(p) for p in ("school bus", "bus", "road", "vehicle")
    }
    # the fallback is said in a log line and in the response
    assert body["embedder"].startswith("minilm:") and "falling back" in out.stderr


@pytest.mark.slow
def test_mine_table_and_bad_input(cli_env):
    out = _run(["mine", "zebra", "-k", "5"], cli_env)
    assert out.returncode == 0, out.stderr
    assert "hard negatives for zebra" in out.stdout and "vocabulary: ok" in out.stdout
    bad = _run(["mine", "zebra", "--miners", "nope"], cli_env)
    assert bad.returncode == 2 and "unknown miner" in bad.stderr
    empty = _run(["mine", "   "], cli_env)
    assert empty.returncode == 2 and "positives" in empty.stderr


@pytest.mark.slow
def test_index_build_from_a_phrase_file(cli_env, tmp_path: Path):
    vocab = tmp_path / "concepts.txt"
    vocab.write_text(
        "# my concepts\nyellow taxi\nred school bus\nschool van\nminivan\nschool bus\n\nbanana\n"
    )
    env = {**cli_env, "HARDNEG_INDEX_DIR": str(tmp_path / "idx")}
    out = _run(["index", "build", "--vocab", str(vocab)], env)
    assert out.returncode == 0, out.stderr
    assert "indexed 6 phrases (flat)" in out.stdout
    assert len(list((tmp_path / "idx").glob("vocab-*.faiss"))) == 1
    mined = _run(
        ["mine", "yellow school bus", "--json", "-k", "10"],
        {**env, "HARDNEG_VOCAB_PATH": str(vocab)},
    )
    assert mined.returncode == 0, mined.stderr
    phrases = {n["phrase"] for n in json.loads(mined.stdout)["items"][0]["negatives"]}
    assert "school bus" not in phrases and "yellow taxi" in phrases
    missing = _run(["index", "build", "--vocab", str(tmp_path / "nope.txt")], env)
    assert missing.returncode == 2 and "cannot read vocabulary" in missing.stderr


@pytest.mark.slow
def test_doctor_reports_each_component(cli_env):
    out = _run(["doctor"], cli_env)
    assert out.returncode == 0, out.stdout + out.stderr
    for part in (
        "python packages",
        "redis-server",
        "embedder",
        "cache",
        "miner:vocabulary",
        "fallback",
        "HARDNEG_CLIP_CHECKPOINT",
    ):
        assert part in out.stdout, part


@pytest.mark.slow
def test_serve_answers_over_http(cli_env):
    import time

    import httpx

    from tests.procs import free_port, wait_port

    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **cli_env}
    env.pop("HARDNEG_REDIS_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "hardneg.clients.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, timeout_s=180, proc=proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while httpx.get(url + "/readyz", timeout=5).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.5)
        resp = httpx.get(url + "/v1/negatives", params={"concept": "violin", "k": 4}, timeout=60)
        assert resp.status_code == 200 and len(resp.json()["items"][0]["negatives"]) == 4
        bad = httpx.post(url + "/v1/negatives", json={"items": []}, timeout=10)
        assert bad.status_code == 422 and "items" in bad.json()["error"]["message"]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
