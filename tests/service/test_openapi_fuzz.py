"""Issue 13, failure 5: the OpenAPI said less than the server did. Schemathesis, every check,
bounded examples, against the real service in its own process (uvicorn, lifespan, middleware),
finds no 5xx and no schema or status mismatch.

The service runs the vocabulary miner on the embedded default with a SQLite false-positive
table and no API keys. The exemptions are configured, with their reasons, in schemathesis.toml.
The annotation routes (verdicts, stats, the review page, the Label Studio backend) are left out
here until their own work declares what they answer (known gaps are listed in the report of
issue 13); every other route is covered.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.procs import find_exe, service

pytestmark = [pytest.mark.slow, pytest.mark.integration]
HERE = Path(__file__).parent


def test_every_route_keeps_its_openapi_promises(index_dir, tmp_path):
    env = {
        "HARDNEG_MINERS": '["vocabulary"]',
        "HARDNEG_EMBEDDER": "minilm:all-MiniLM-L6-v2",
        "HARDNEG_INDEX_DIR": str(index_dir),
        "HARDNEG_FP_STORE_PATH": str(tmp_path / "fp.sqlite"),
        "HARDNEG_FP_INGEST_ROOT": str(tmp_path),
    }
    st = find_exe("st") or find_exe("schemathesis")
    assert st is not None, "schemathesis is a dev dependency: pip install -e '.[dev]'"
    with service(env, log=tmp_path / "service.log") as srv:
        args = ["--config-file", str(HERE / "schemathesis.toml"), "run", "--checks", "all"]
        args += ["--generation-deterministic", "--request-timeout", "60"]
        args += ["--exclude-path-regex", "^/(review|labelstudio)|^/v1/(verdicts|stats)"]
        run = subprocess.run(
            [st, *args, f"{srv.url}/openapi.json"],
            capture_output=True,
            text=True,
            timeout=600,
        )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-12_000:]
    assert "No issues found" in out or "passed" in out, out[-4000:]
    print(out[-2000:], file=sys.stderr)
