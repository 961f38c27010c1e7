"""Start real servers (redis-server, oxigraph) on free loopback ports for tests and benchmarks."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def find_exe(name: str) -> str | None:
    """An executable installed beside this Python (a venv's bin/, even when the venv is not
    activated, as with `.venv/bin/python -m pytest`), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(
    port: int, timeout_s: float = 20.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")


class RedisServer:
    """A private redis-server; ``restart()`` keeps its port and data dir (for durability tests)."""

    def __init__(self, workdir: Path, appendonly: bool = False) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server not found: apt-get install redis-server")
        self.exe = exe
        self.workdir = workdir
        self.appendonly = appendonly
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [
            self.exe,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.workdir),
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appendfsync",
            "always",
            "--protected-mode",
            "no",
            "--logfile",
            "redis.log",
        ]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, proc=self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def redis_server(workdir: Path, appendonly: bool = False) -> Iterator[RedisServer]:
    srv = RedisServer(workdir, appendonly=appendonly)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


class Service:
    """``hardneg serve`` (uvicorn on the app factory) in its own process on a free port."""

    def __init__(self, env: dict[str, str], workers: int = 1, log: Path | None = None) -> None:
        self.env = {**os.environ, "HARDNEG_LOG_LEVEL": "WARNING", **env}
        self.workers = workers
        self.port = free_port()
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 300.0) -> None:
        import httpx

        cmd = [sys.executable, "-m", "uvicorn", "--factory", "hardneg.service.app:app_from_env"]
        cmd += ["--port", str(self.port), "--workers", str(self.workers), "--no-access-log"]
        out = self.log.open("ab") if self.log is not None else subprocess.DEVNULL
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=out)
        wait_port(self.port, timeout_s=timeout_s, proc=self.proc)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:  # listening comes before the lifespan has finished
            try:
                if httpx.get(self.url + "/healthz", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"hardneg at {self.url} not up after {timeout_s}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None


@contextmanager
def service(env: dict[str, str], workers: int = 1, log: Path | None = None) -> Iterator[Service]:
    srv = Service(env, workers=workers, log=log)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
