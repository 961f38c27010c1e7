"""The deployment files, checked by real validators installed from PyPI (no Docker engine or
cluster here): hadolint for the images, the Compose Specification's JSON Schema for compose
(check-jsonschema), kubernetes-validate (the API server's schemas, strict) for the manifests,
and a real redis-server started on deploy/redis/redis.conf for its eviction promise."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import redis

from tests.procs import find_exe, free_port, wait_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DOCKERFILES = [DEPLOY / "Dockerfile", DEPLOY / "Dockerfile.cuda"]
COMPOSE = [DEPLOY / "compose.yaml", DEPLOY / "vllm" / "compose.vllm.yaml"]
MANIFESTS = [DEPLOY / "k8s" / "hardneg.yaml", DEPLOY / "oxigraph" / "k8s.yaml"]
MANIFESTS.append(DEPLOY / "vllm" / "k8s.yaml")


def _run(tool: str, *args: str) -> str:
    exe = find_exe(tool)
    assert exe is not None, f"{tool} is a dev dependency: pip install -e '.[dev]'"
    done = subprocess.run([exe, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_images_lint_clean_multi_stage_and_non_root(dockerfile):
    _run("hadolint", "--failure-threshold", "warning", str(dockerfile))
    text = dockerfile.read_text()
    stages = re.findall(r"^FROM\s+\S+", text, flags=re.M)
    assert len(stages) >= 2, "multi-stage: the build tools stay out of the final image"
    final = text.rsplit("\nFROM ", 1)[1]
    users = re.findall(r"^USER\s+(\S+)", final, flags=re.M)
    assert users and not users[-1].startswith(("0", "root")), "the final stage runs as non-root"
    assert "COPY --from=build" in final and "HEALTHCHECK" in final


def test_compose_files_follow_the_compose_spec():
    _run("check-jsonschema", "--builtin-schema", "vendor.compose-spec", *map(str, COMPOSE))


def test_compose_has_the_api_redis_oxigraph_and_vllm():
    import yaml

    services = {}
    for path in COMPOSE:
        services.update(yaml.safe_load(path.read_text())["services"])
    assert {"hardneg", "redis", "oxigraph", "oxigraph-load", "vllm"} <= set(services)
    assert services["redis"]["command"][-1].endswith("redis.conf")


def test_kubernetes_manifests_validate_strictly():
    out = _run("kubernetes-validate", "--strict", *map(str, MANIFESTS))
    kinds = set(re.findall(r"passed for resource (\w+)/", out))
    assert {"deployment", "service", "horizontalpodautoscaler", "configmap"} <= kinds


def test_api_probes_hit_readyz_and_healthz():
    import yaml

    docs = list(yaml.safe_load_all((DEPLOY / "k8s" / "hardneg.yaml").read_text()))
    api = next(d for d in docs if d["kind"] == "Deployment")
    pod = api["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert {e.get("configMapRef", {}).get("name") for e in container["envFrom"]} >= {
        "hardneg-config"
    }


@pytest.mark.integration
def test_redis_conf_evicts_cache_never_stored_data(tmp_path):
    """redis-server accepts the file as it is (unknown directives would stop it), and when
    memory is full it evicts keys with a TTL (cache) and never keys without one (data)."""
    exe = find_exe("redis-server")
    assert exe is not None
    port = free_port()
    conf = (DEPLOY / "redis" / "redis.conf").read_text()
    assert "\ndir /data\n" in conf
    # redis checks `dir` while reading the file (before command-line overrides): point it here
    (tmp_path / "redis.conf").write_text(conf.replace("\ndir /data\n", f"\ndir {tmp_path}\n"))
    args = [exe, str(tmp_path / "redis.conf"), "--port", str(port), "--bind", "127.0.0.1"]
    args += ["--maxmemory", "3mb", "--appendfsync", "always"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc=proc)
        r = redis.Redis(port=port)
        assert r.config_get("appendonly")["appendonly"] == "yes"
        assert r.config_get("maxmemory-policy")["maxmemory-policy"] == "volatile-lru"
        for i in range(200):
            r.set(f"hardneg:fp:pair:{i}", b"x" * 1000)  # data: no TTL
        refused = 0
        for i in range(3000):
            try:
                r.set(f"hardneg:neg:{i}", b"y" * 1000, ex=3600)  # cache: with a TTL
            except redis.exceptions.ResponseError:
                refused += 1
        assert r.dbsize() < 3200, "the cache was evicted as memory filled"
        assert all(r.exists(f"hardneg:fp:pair:{i}") for i in range(200)), "data was evicted"
        r.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
