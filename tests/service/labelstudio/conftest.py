"""hardneg served over real HTTP (uvicorn in a thread) with its Label Studio exchanges recorded,
and, opt-in, a real Label Studio server (HARDNEG_TEST_LS_VENV: its own venv, made by
deploy/labelstudio/install.sh)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.procs import free_port, wait_port
from tests.service.labelstudio.recorder import Recorder

HERE = Path(__file__).parent
RECORDED = HERE / "recorded" / "exchanges.json"
LEGACY_TOKEN = "hardneg0test0legacy0token0000000000000001"


@dataclass
class Served:
    url: str
    recorder: Recorder


@pytest.fixture
def served(make_pipeline, tmp_path: Path) -> Iterator[Served]:
    import uvicorn

    from hardneg.service.app import create_app

    pipeline = make_pipeline(verdict_store_path=tmp_path / "verdicts.sqlite")
    recorder = Recorder(create_app(pipeline=pipeline))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(recorder, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_port(port, timeout_s=60)
    try:
        yield Served(f"http://127.0.0.1:{port}", recorder)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@dataclass
class LabelStudio:
    url: str
    venv: Path
    legacy_token: str
    personal_token: str

    def drive(self, step: str, **args: Any) -> dict[str, Any]:
        """One step of ls_driver.py, run by Label Studio's own Python with label-studio-sdk."""
        cmd = [
            str(self.venv / "bin" / "python"),
            str(HERE / "ls_driver.py"),
            self.url,
            self.legacy_token,
            step,
            json.dumps(args),
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-3000:]
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudio]:
    venv = Path(os.environ["HARDNEG_TEST_LS_VENV"])
    data = tmp_path_factory.mktemp("label-studio")
    port = free_port()
    env = {
        **os.environ,
        "LABEL_STUDIO_BASE_DATA_DIR": str(data),
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",  # the SDK driver's token
        "SSRF_PROTECTION_ENABLED": "false",  # hardneg and Label Studio share loopback here
        "ML_BLOCK_LOCAL_IP": "false",
    }
    cmd = [
        str(venv / "bin" / "label-studio"),
        "start",
        "--no-browser",
        "--port",
        str(port),
        "--internal-host",
        "127.0.0.1",
        "--data-dir",
        str(data),
        "--username",
        "admin@example.com",
        "--password",
        "hardneg-test-password",
        "--user-token",
        LEGACY_TOKEN,
    ]
    log = (data / "server.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_port(port, timeout_s=600, proc=proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(url + "/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "Label Studio did not become healthy"
            time.sleep(1)
        auth = {"Authorization": f"Token {LEGACY_TOKEN}"}
        resp = httpx.post(url + "/api/token/", headers=auth, timeout=30)
        assert resp.status_code in (200, 201), resp.text
        yield LabelStudio(url, venv, LEGACY_TOKEN, resp.json()["token"])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def run_cli(args: list[str], env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **env_extra}
    env.pop("HARDNEG_REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "hardneg.clients.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
