"""``--engine ray`` on a local Ray instance: the same records as the local engine."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hardneg.clients.cli.batch import run_batch
from hardneg.miners.types import MineOptions, NegativesRequest
from tests.clients.test_batch import coco_file


@pytest.fixture(scope="module")
def local_ray(make_pipeline, index_dir, tmp_path_factory):
    """One small local Ray instance for the module; actors build their pipeline from this
    HARDNEG_ environment (the session's MiniLM and vocabulary index), as the local engine does."""
    import asyncio

    import ray

    pipe = make_pipeline()  # builds the vocabulary index the actors load
    asyncio.run(pipe.mine(NegativesRequest.for_concept("zebra", k=3)))
    tmp = tmp_path_factory.mktemp("ray-env")
    env = {
        "HARDNEG_EMBEDDER": "minilm:all-MiniLM-L6-v2",
        "HARDNEG_MINERS": '["vocabulary"]',
        "HARDNEG_INDEX_DIR": str(index_dir),
        "HARDNEG_FP_STORE_PATH": str(tmp / "fp.sqlite"),
        "HARDNEG_VERDICT_STORE_PATH": str(tmp / "verdicts.sqlite"),
        "HARDNEG_VERIFY_STORE_PATH": str(tmp / "verify.sqlite"),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {**env, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}},
    )
    yield env
    ray.shutdown()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _comparable(path: Path) -> list[dict]:
    """Records without the miners' timings (ms), which no two runs share."""
    out = []
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        for status in rec["miners"].values():
            status.pop("ms")
        out.append(rec)
    return out


@pytest.mark.slow
async def test_ray_engine_writes_the_local_engines_records(local_ray, tmp_path: Path):
    src = coco_file(tmp_path / "gt.json", 24, seed=5, empty=1)
    local, on_ray = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    await run_batch(src, local, MineOptions(k=5), chunk=8)
    report = await run_batch(src, on_ray, MineOptions(k=5), chunk=8, engine="ray", actors=1)
    assert report.written == 25 and report.notes == 1
    assert _comparable(on_ray) == _comparable(local)
    again = await run_batch(src, on_ray, MineOptions(k=5), chunk=8, engine="ray")
    assert again.written == 0 and again.skipped == 25
