"""The light client stays light: a training data loader imports it without the service's stack."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = {"torch", "faiss", "open_clip", "fastapi", "numpy", "typer", "rich", "redis", "starlette"}


def _top_level_modules(imports: str) -> set[str]:
    code = f"import json, sys\n{imports}\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(out.stdout))


def test_importing_the_client_pulls_in_nothing_heavy():
    loaded = _top_level_modules(
        "import hardneg.clients\nfrom hardneg.clients import AsyncClient, Client, NegativesRequest"
    )
    # httpx loads rich for its own command line when rich happens to be installed (it is here,
    # for the CLI extra): only what importing hardneg.clients adds on top of httpx counts.
    baseline = _top_level_modules("import httpx, pydantic")
    assert "httpx" in loaded and "pydantic" in loaded  # the imports really happened
    added = (loaded - baseline) & HEAVY
    assert not added, f"importing hardneg.clients imported {sorted(added)}"
    assert not loaded & {"torch", "faiss", "open_clip", "fastapi", "numpy", "typer"}


def test_loader_helpers_pull_in_nothing_heavy():
    """The loaders' prefetching and Hugging Face helpers: as light as the client (torch only
    in ``hardneg.clients.torch_data``, which a PyTorch job imports)."""
    loaded = _top_level_modules("import hardneg.clients.loaders")
    baseline = _top_level_modules("import httpx, pydantic")
    assert "hardneg" in loaded
    assert not (loaded - baseline) & HEAVY
