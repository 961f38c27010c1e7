"""HARDNEG_DEFAULT_K is honoured wherever a request leaves k unset: POST, GET, CLI and batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from hardneg.clients.cli import batch
from hardneg.miners.types import MineOptions, NegativesRequest
from hardneg.service.app import create_app
from hardneg.service.local import LocalBackend

DEFAULT_K = 4


@pytest.fixture(scope="module")
def pipe(make_pipeline):
    return make_pipeline(default_k=DEFAULT_K)


async def test_post_and_get_without_k_use_the_setting(pipe):
    app = create_app(pipeline=pipe)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c,
    ):
        post = await c.post("/v1/negatives", json={"items": [{"positives": ["violin"]}]})
        get = await c.get("/v1/negatives", params={"concept": "violin"})
        explicit = await c.post(
            "/v1/negatives", json={"items": [{"positives": ["violin"]}], "k": 6}
        )
    assert [len(r.json()["items"][0]["negatives"]) for r in (post, get, explicit)] == [4, 4, 6]


async def test_in_process_backend_without_k_uses_the_setting(pipe):
    resp = await LocalBackend(pipe).negatives(NegativesRequest.for_concept("teapot"))
    assert len(resp.items[0].negatives) == DEFAULT_K


async def test_batch_without_k_uses_the_setting(pipe, tmp_path: Path, monkeypatch):
    class Shared(LocalBackend):
        async def aclose(self) -> None:
            return None

    async def open_backend(url, **_):
        return Shared(pipe)

    monkeypatch.setattr(batch, "open_backend", open_backend)
    src = tmp_path / "items.jsonl"
    src.write_text(
        "\n".join(
            json.dumps({"id": f"i{n}", "positives": [p]}) for n, p in enumerate(["zebra", "lamp"])
        )
    )
    out = tmp_path / "out.jsonl"
    await batch.run_batch(src, out, MineOptions())
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [len(x["negatives"]) for x in lines] == [DEFAULT_K, DEFAULT_K]


@pytest.mark.slow
def test_cli_mine_without_k_uses_the_setting(index_dir, tmp_path):
    env = {
        **os.environ,
        "HARDNEG_DEFAULT_K": "3",
        "HARDNEG_EMBEDDER": "minilm:all-MiniLM-L6-v2",
        "HARDNEG_MINERS": '["vocabulary"]',
        "HARDNEG_INDEX_DIR": str(index_dir),
        "HARDNEG_FP_STORE_PATH": str(tmp_path / "fp.sqlite"),
    }
    res = subprocess.run(
        [sys.executable, "-m", "hardneg.clients.cli", "mine", "violin", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert len(json.loads(res.stdout)["items"][0]["negatives"]) == 3
