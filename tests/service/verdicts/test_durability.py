"""Lossless verdicts: a real ``hardneg serve`` and a real redis-server (append-only, fsync always),
both killed with SIGKILL while writers are posting; after restarting them, every verdict that was
acknowledged (HTTP 200) is there with its content. Run for both verdict stores."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.procs import RedisServer, free_port, wait_port

WRITERS = 4
KILL_AFTER = 300  # acknowledged verdicts before the kill


class Service:
    """``hardneg serve`` as a user runs it, restartable on the same port."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", **env}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [sys.executable, "-m", "hardneg.clients.cli", "serve", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_port(self.port, timeout_s=180, proc=self.proc)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


def _verdict(writer: int, n: int) -> dict[str, object]:
    return {
        "id": f"w{writer}-{n}",
        "item_id": f"img-{n % 17}",
        "positive": "yellow school bus",
        "negative": f"negative {writer} {n}",
        "verdict": ("absent", "present", "not_similar", "implausible", "unsure")[n % 5],
        "annotator": f"writer-{writer}",
        "source": "durability-test",
    }


class Writers:
    """Threads posting verdicts one by one; each remembers what was acknowledged."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.acked: dict[str, dict[str, object]] = {}
        self.failed = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(w,)) for w in range(WRITERS)]

    def _run(self, writer: int) -> None:
        with httpx.Client(timeout=5) as http:
            n = 0
            while not self.stop.is_set():
                body = _verdict(writer, n)
                n += 1
                try:
                    resp = http.post(self.url + "/v1/verdicts", json=body)
                except httpx.HTTPError:
                    with self.lock:
                        self.failed += 1
                    continue
                with self.lock:
                    if resp.status_code == 200:
                        self.acked[str(body["id"])] = body
                    else:
                        self.failed += 1


def _export(url: str) -> dict[str, dict[str, object]]:
    deadline = time.monotonic() + 60
    while True:
        try:
            resp = httpx.get(url + "/v1/verdicts/export", timeout=30)
            if resp.status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the service did not come back"
        time.sleep(0.3)
    import json

    return {row["id"]: row for row in map(json.loads, resp.text.splitlines())}


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_acknowledged_verdicts_survive_kill_9_of_service_and_redis(
    backend: str, tmp_path: Path, index_dir: Path
) -> None:
    redis = RedisServer(tmp_path / "redis", appendonly=True)
    redis.start()
    env = {
        "HARDNEG_MINERS": '["vocabulary"]',
        "HARDNEG_INDEX_DIR": str(index_dir),
        "HARDNEG_REDIS_URL": redis.url,  # the answer cache: killed with the rest
        "HARDNEG_FP_STORE_PATH": str(tmp_path / "fp.sqlite"),
        "HARDNEG_VERDICT_STORE_PATH": str(tmp_path / "verdicts.sqlite"),
    }
    if backend == "redis":
        env["HARDNEG_VERDICT_REDIS_URL"] = redis.url
    service = Service(env)
    try:
        service.start()
        writers = Writers(service.url)
        for t in writers.threads:
            t.start()
        deadline = time.monotonic() + 120
        while len(writers.acked) < KILL_AFTER:
            assert time.monotonic() < deadline, f"only {len(writers.acked)} acknowledged"
            time.sleep(0.01)
        # mid-stream: writers are still posting while both die
        assert redis.proc is not None
        redis.proc.send_signal(signal.SIGKILL)
        service.kill()
        redis.proc.wait(timeout=10)
        time.sleep(0.3)
        writers.stop.set()
        for t in writers.threads:
            t.join(timeout=30)
        with writers.lock:
            acked = dict(writers.acked)
        redis.start()
        service.start()
        stored = _export(service.url)
        lost = sorted(set(acked) - set(stored))
        assert not lost, f"{len(lost)} of {len(acked)} acknowledged verdicts lost: {lost[:5]}"
        for vid, body in acked.items():
            row = stored[vid]
            assert (row["phrase"], row["verdict"], row["item_id"]) == (
                body["negative"],
                body["verdict"],
                body["item_id"],
            )
        assert writers.failed > 0  # some requests were in flight or refused when both died
        print(
            f"{backend}: {len(acked)} acknowledged, all present after kill -9; "
            f"{writers.failed} unacknowledged, {len(stored) - len(acked)} of them stored"
        )
    finally:
        service.stop()
        redis.stop()
