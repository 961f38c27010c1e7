"""Issue 13, failure 2: the false-positive route read any server path, blocked on a FIFO, and
its errors told whether a path exists. Now: a root, one error, a size cap, a timeout, the
operator's own threads, an upload form, and write keys."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from hardneg.miners.false_positive import open_store
from hardneg.miners.false_positive import rounds as fp_rounds
from hardneg.service.auth import Keys
from hardneg.service.errors import install_error_handlers
from hardneg.service.routes_fp import aclose, router
from hardneg.service.settings import Settings
from tests.miners.false_positive import fixture


def _app(tmp_path: Path, **settings: object) -> FastAPI:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    app = FastAPI()
    install_error_handlers(app)
    app.state.settings = Settings(
        _env_file=None, fp_store_path=tmp_path / "fp.sqlite", fp_ingest_root=root, **settings
    )
    app.state.fp_store = open_store(app.state.settings)
    app.state.keys = Keys.from_settings(app.state.settings)
    app.include_router(router)
    return app


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Path]]:
    app = _app(tmp_path, fp_max_file_bytes=64 * 1024, fp_read_timeout_s=2.0)
    root = tmp_path / "root"
    (root / "gt.json").write_text(json.dumps(fixture.coco_gt()))
    (root / "preds.json").write_text(json.dumps(fixture.predictions()))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c, root
    await aclose(app)


def _paths(gt: str, preds: str = "preds.json") -> dict[str, str]:
    return {"round": "r1", "ground_truth_path": gt, "predictions_path": preds}


async def test_relative_path_under_the_root_is_ingested(served):
    client, _ = served
    resp = await client.post("/v1/false-positives", json=_paths("gt.json"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["ingest"]["false_positives"] == 9


async def test_one_error_whether_or_not_the_path_exists(served, tmp_path):
    client, root = served
    os.mkfifo(root / "fifo.json")
    (root / "dir.json").mkdir()
    outside = tmp_path / "secret.json"
    outside.write_text(json.dumps(fixture.coco_gt()))
    (root / "link.json").symlink_to(outside)
    refused = [
        str(outside),  # exists, outside the root
        "../secret.json",  # the same through ..
        "link.json",  # a symlink under the root to a file outside it
        "/etc/passwd",
        "nope.json",  # does not exist
        "../../../../no/such/file",
        "fifo.json",  # a FIFO under the root: must not block
        "dir.json",
    ]
    bodies = set()
    start = time.perf_counter()
    for path in refused:
        resp = await client.post("/v1/false-positives", json=_paths(path))
        assert resp.status_code == 422, (path, resp.text)
        bodies.add(resp.text)
    assert time.perf_counter() - start < 2.0  # nothing waited on the FIFO
    assert len(bodies) == 1, bodies  # not a word about which paths exist
    assert "not a readable regular file under the ingest root" in bodies.pop()


async def test_eight_fifo_requests_do_not_block_the_service(served):
    client, root = served
    os.mkfifo(root / "fifo.json")
    start = time.perf_counter()
    got = await asyncio.gather(
        *(client.post("/v1/false-positives", json=_paths("fifo.json")) for _ in range(8)),
        client.get("/v1/false-positives/rounds"),
    )
    assert time.perf_counter() - start < 2.0
    assert [r.status_code for r in got[:8]].count(422) + [r.status_code for r in got[:8]].count(
        429
    ) == 8
    assert got[8].status_code == 200


async def test_file_over_the_cap_is_413(served):
    client, root = served
    (root / "big.json").write_text(json.dumps({"images": ["x" * 100_000]}))
    resp = await client.post("/v1/false-positives", json=_paths("big.json"))
    assert resp.status_code == 413, resp.text
    assert "HARDNEG_FP_MAX_FILE_BYTES" in resp.json()["error"]["message"]


async def test_server_paths_are_refused_without_a_root(tmp_path):
    app = FastAPI()
    install_error_handlers(app)
    app.state.settings = Settings(_env_file=None, fp_store_path=tmp_path / "fp.sqlite")
    app.state.fp_store = open_store(app.state.settings)
    app.include_router(router)
    (tmp_path / "gt.json").write_text(json.dumps(fixture.coco_gt()))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as c:
        resp = await c.post("/v1/false-positives", json=_paths(str(tmp_path / "gt.json")))
    assert resp.status_code == 422 and "upload" in resp.json()["error"]["message"]
    await aclose(app)


async def test_upload_form_needs_no_server_path(served):
    client, _ = served
    files = {
        "ground_truth": ("gt.json", json.dumps(fixture.coco_gt()), "application/json"),
        "predictions": ("p.json", json.dumps(fixture.predictions()), "application/json"),
    }
    resp = await client.post("/v1/false-positives/upload", data={"round": "up"}, files=files)
    assert resp.status_code == 200, resp.text
    assert resp.json()["round"] == "up" and resp.json()["ingest"]["false_positives"] == 9
    files["predictions"] = ("p.json", "x" * 70_000, "application/json")
    too_big = await client.post("/v1/false-positives/upload", data={"round": "up"}, files=files)
    assert too_big.status_code == 413, too_big.text


async def test_parsing_runs_on_the_operator_threads(served, monkeypatch):
    client, _ = served
    seen: list[str] = []
    real = fp_rounds.prepare

    def spy(*args, **kwargs):
        seen.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr("hardneg.service.routes_fp.prepare", spy)
    resp = await client.post("/v1/false-positives", json=_paths("gt.json"))
    assert resp.status_code == 200, resp.text
    assert seen and seen[0].startswith("hardneg-operator")


async def test_a_second_ingestion_at_once_gets_429(served, monkeypatch):
    client, _ = served
    release = threading.Event()
    real = fp_rounds.prepare

    def slow(*args, **kwargs):
        release.wait(5)
        return real(*args, **kwargs)

    monkeypatch.setattr("hardneg.service.routes_fp.prepare", slow)
    first = asyncio.ensure_future(client.post("/v1/false-positives", json=_paths("gt.json")))
    await asyncio.sleep(0.2)
    second = await client.post("/v1/false-positives", json=_paths("gt.json"))
    release.set()
    assert second.status_code == 429 and second.headers["retry-after"]
    assert (await first).status_code == 200


async def test_write_routes_need_a_write_key(tmp_path):
    app = _app(tmp_path, api_keys_read=["reader-key"], api_keys_write=["writer-key"])
    (tmp_path / "root" / "gt.json").write_text(json.dumps(fixture.coco_gt()))
    (tmp_path / "root" / "preds.json").write_text(json.dumps(fixture.predictions()))
    body = _paths("gt.json")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as c:
        none = await c.post("/v1/false-positives", json=body)
        assert none.status_code == 401 and none.headers["www-authenticate"] == "Bearer"
        wrong = await c.post("/v1/false-positives", json=body, headers={"X-API-Key": "nope"})
        assert wrong.status_code == 401
        read = await c.post(
            "/v1/false-positives", json=body, headers={"Authorization": "Bearer reader-key"}
        )
        assert read.status_code == 403, read.text
        ok = await c.post("/v1/false-positives", json=body, headers={"X-API-Key": "writer-key"})
        assert ok.status_code == 200, ok.text
        rounds = await c.get("/v1/false-positives/rounds", headers={"X-API-Key": "reader-key"})
        assert rounds.status_code == 200
        assert (await c.get("/v1/false-positives/rounds")).status_code == 401
    await aclose(app)


def test_keys_compare_every_key_and_keep_digests_only():
    keys = Keys(["r1", "r2"], ["w1"])
    assert keys.scope_of("r2") == "read" and keys.scope_of("w1") == "write"
    assert keys.scope_of("r") is None and keys.scope_of("") is None
    assert "r1" not in repr(keys.__dict__)
    assert Keys(["same"], ["same"]).scope_of("same") == "write"
