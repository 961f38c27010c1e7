"""deploy/ray: the RayJob's entrypoint and runtime env are what `hardneg batch` accepts."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml
from typer.main import get_command

from hardneg.clients.cli.app import app
from hardneg.service.settings import Settings

RAY = Path(__file__).resolve().parents[2] / "deploy" / "ray"


def test_rayjob_entrypoint_parses_as_a_batch_command():
    job = yaml.safe_load((RAY / "rayjob.yaml").read_text())
    assert job["kind"] == "RayJob"
    argv = shlex.split(job["spec"]["entrypoint"])
    assert argv[:2] == ["hardneg", "batch"]
    cmd = get_command(app).commands["batch"]  # type: ignore[attr-defined]
    ctx = cmd.make_context("batch", argv[2:])  # raises on an unknown option or bad value
    assert ctx.params["engine"] == "ray" and ctx.params["actors"] == 8


def test_runtime_env_settings_are_valid(monkeypatch):
    for spec in (
        yaml.safe_load((RAY / "runtime_env.yaml").read_text()),
        yaml.safe_load(yaml.safe_load((RAY / "rayjob.yaml").read_text())["spec"]["runtimeEnvYAML"]),
    ):
        for k, v in spec["env_vars"].items():
            monkeypatch.setenv(k, v)
        s = Settings(_env_file=None)
        assert s.miners == ["vocabulary", "ontology", "llm"] and s.redis_url
