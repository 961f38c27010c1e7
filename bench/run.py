"""The one benchmark command: every figure of docs/benchmarks.md, written as Markdown and JSON
with the machine they were measured on.

    python bench/run.py [--quick] [--only api,encoder,...] [--out bench/results]

Sections: ``api`` (cached path vs a trivial endpoint, batch vs single), ``encoder`` (trimmed vs
full context; CUDA too when torch sees a GPU), ``faiss`` (flat vs approximate at 100k and 1M
vectors with recall@10; on the GPU when faiss sees one), ``ontology`` (p50/p95), ``ingest``
(false-positive predictions/s), ``batch`` (items/s in-process), ``overload`` (2x capacity, and
1 vs 2 workers). A section that cannot run here says why in the tables instead of failing the
run. Prints and writes figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

import bench_api  # noqa: E402
import bench_encode  # noqa: E402
import bench_fp_ingest  # noqa: E402
import bench_index  # noqa: E402
import bench_overload  # noqa: E402

Rows = list[dict[str, Any]]


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import psutil

    from hardneg.service.admission import usable_cpus

    info: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cpus": usable_cpus(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_1min": round(os.getloadavg()[0], 2),
        "commit": _git("rev-parse", "--short", "HEAD"),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        info["torch"] = None
    try:
        import faiss

        info["faiss"] = faiss.__version__
        info["faiss_gpus"] = int(faiss.get_num_gpus())
    except ImportError:
        info["faiss"] = None
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, cwd=BENCH, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def api(quick: bool) -> Rows:
    """Cached POST vs GET /healthz on one server; a cached 32-item request vs 1-item ones."""
    from tests.procs import RedisServer, Service

    seconds = 3.0 if quick else 5.0
    work = Path(tempfile.mkdtemp(prefix="hardneg-bench-api-"))
    redis = RedisServer(work / "redis")
    redis.start()
    env = {"HARDNEG_REDIS_URL": redis.url, "HARDNEG_INDEX_DIR": str(work / "index")}
    srv = Service(env, log=work / "service.log")
    srv.start()
    try:
        bench_api.CONCEPTS.extend(bench_api._concepts())
        one = {"items": [bench_api.ITEM], "k": 30}
        items32 = [
            {**bench_api.ITEM, "id": f"img-{i}", "positives": [p]}
            for i, p in enumerate(bench_api.CONCEPTS[:32])
        ]
        many = {"items": items32, "k": 30}
        import httpx

        with httpx.Client(base_url=srv.url, timeout=300) as c:  # fill the cache
            c.post("/v1/negatives", json=one).raise_for_status()
            c.post("/v1/negatives", json=many).raise_for_status()
        load = bench_api._load
        trivial = asyncio.run(load(srv.url, "GET", "/healthz", None, seconds, 16))
        cached = asyncio.run(load(srv.url, "POST", "/v1/negatives", one, seconds, 16))
        batch = asyncio.run(load(srv.url, "POST", "/v1/negatives", many, seconds, 16))
    finally:
        srv.stop()
        redis.stop()
    return [
        {"figure": "trivial GET /healthz", "value": f"{trivial:.0f} req/s"},
        {
            "figure": "cached POST, 1 item (ratio to trivial)",
            "value": f"{cached:.0f} req/s ({100 * cached / trivial:.0f}%)",
        },
        {
            "figure": "cached POST, 32 items (per item vs 1-item requests)",
            "value": f"{batch * 32:.0f} items/s ({batch * 32 / cached:.1f}x)",
        },
    ]


def encoder(quick: bool) -> Rows:
    """open_clip ViT-B-32 text tower (random weights): trimmed vs full context, CPU and CUDA."""
    import torch

    from hardneg.service.similarity.embedder import OpenClipEmbedder

    rows: Rows = []
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        torch.manual_seed(0)
        if device == "cpu":
            torch.set_num_threads(1)
        n = 64 if quick and device == "cpu" else (128 if device == "cpu" else 4096)
        emb = OpenClipEmbedder("ViT-B-32", device=device, batch_size=64 if device == "cpu" else 512)
        texts = bench_encode.phrases(n)
        emb.encode_text(texts[:8])
        best = {}
        for trim in (True, False):
            emb.trim_context = trim
            best[trim] = min(bench_encode.timed(emb.encode_text, texts)[1] for _ in range(2))
        label = (
            f"{device} ({torch.cuda.get_device_name(0)})" if device == "cuda" else "cpu, 1 thread"
        )
        rows.append(
            {
                "device": label,
                "texts": n,
                "full texts/s": round(n / best[False], 1),
                "trimmed texts/s": round(n / best[True], 1),
                "speed-up": round(best[False] / best[True], 2),
            }
        )
    return rows


def faiss_index(quick: bool) -> Rows:
    """Flat vs approximate at 100k and 1M vectors (384-d), recall@10 against exact search."""
    from hardneg.service.similarity.index import VectorIndex

    sizes = [20_000, 100_000] if quick else [100_000, 1_000_000]
    rows: Rows = []
    for n in sizes:
        x = bench_index.clustered(n, 384, seed=1)
        q = bench_index.clustered(300, 384, seed=2)
        truth = None
        kinds = ["flat", "ivf"] + (["hnsw"] if n <= 100_000 else [])
        for kind in kinds:
            index = VectorIndex(384, kind=kind)
            start = time.perf_counter()
            index.build(x)
            built = time.perf_counter() - start
            ids, took = bench_index.timed_search(index, q, 10)
            truth = ids if truth is None else truth
            rows.append(
                {
                    "vectors": n,
                    "index": kind + (" (GPU)" if index.on_gpu else ""),
                    "build s": round(built, 1),
                    "ms/query": round(1000 * took / len(q), 3),
                    "recall@10": round(bench_index.recall(ids, truth), 3),
                }
            )
        del x
    return rows


def ontology(quick: bool) -> Rows:
    """The ontology miner on the shipped snapshot: distinct concepts cold, then cached."""
    from hardneg.miners.base import MineQuery, MinerContext
    from hardneg.miners.knowledge import Knowledge
    from hardneg.miners.ontology import OntologyMiner
    from hardneg.service.settings import Settings

    names = [e.phrase for e in Knowledge.load_default().vocabulary()][100 : 120 if quick else 160]

    async def run() -> Rows:
        miner = OntologyMiner(MinerContext(settings=Settings(_env_file=None)))
        await miner.mine(MineQuery(positive="school bus", k=120), MinerContext(settings=None))
        out: Rows = []
        for label in ("cold (distinct concepts)", "cached (the same again)"):
            times = []
            for name in names:
                start = time.perf_counter()
                await miner.mine(MineQuery(positive=name, k=120), MinerContext(settings=None))
                times.append((time.perf_counter() - start) * 1000)
            p50, p95 = bench_overload.pct(times, 0.5), bench_overload.pct(times, 0.95)
            out.append(
                {"run": label, "n": len(times), "p50 ms": round(p50, 1), "p95 ms": round(p95, 1)}
            )
        await miner.aclose()
        return out

    return asyncio.run(run())


def ingest(quick: bool) -> Rows:
    """False-positive ingest of a synthetic COCO-like round into SQLite."""
    from hardneg.miners.false_positive import MatchOptions, ingest_round
    from hardneg.miners.false_positive.store import SqliteStore

    images = 500 if quick else 5000
    gt, preds = bench_fp_ingest.synthetic(images, 100)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "fp.sqlite")
        start = time.perf_counter()
        asyncio.run(ingest_round(store, "bench", gt, preds, MatchOptions()))
        took = time.perf_counter() - start
        asyncio.run(store.aclose())
    return [{"images": images, "predictions": len(preds), "s": round(took, 2),
             "predictions/s": round(len(preds) / took)}]  # fmt: skip


def batch(quick: bool) -> Rows:
    """``hardneg batch`` in-process (the embedded default): cold items/s over distinct concepts."""
    from hardneg.clients.cli.batch import run_batch
    from hardneg.miners.types import MineOptions

    n = 40 if quick else 200
    names = bench_overload.concepts(3000)[:n]
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "items.jsonl", Path(tmp) / "out.jsonl"
        src.write_text("".join(json.dumps({"id": str(i), "positives": [p]}) + "\n"
                               for i, p in enumerate(names)))  # fmt: skip
        os.environ.setdefault("HARDNEG_INDEX_DIR", str(Path(tmp) / "index"))
        warm = Path(tmp) / "warm.jsonl"  # builds the vocabulary index once, outside the timing
        warm.write_text(json.dumps({"id": "w", "positives": ["zebra"]}) + "\n")
        asyncio.run(run_batch(warm, Path(tmp) / "warm.out", MineOptions(k=30)))
        start = time.perf_counter()
        report = asyncio.run(run_batch(src, out, MineOptions(k=30), chunk=64))
        took = time.perf_counter() - start
    return [{"items": report.written, "s (model load included, index prebuilt)": round(took, 1),
             "items/s": round(report.written / took, 2)}]  # fmt: skip


def overload(quick: bool) -> Rows:
    figures = bench_overload.main(["--seconds", "10" if quick else "20", "--workers"])
    u, c, o, r = (figures[k] for k in ("unloaded", "capacity", "overload", "recovery"))
    rows: Rows = [
        {"phase": "unloaded (1 client)", "rate/s": u["ok_per_s"], "p50 ms": u["p50_ms"], "p95 ms": u["p95_ms"], "429": 0},
        {"phase": f"capacity ({figures['interactive_slots']} clients)", "rate/s": c["ok_per_s"], "p50 ms": c["p50_ms"], "p95 ms": c["p95_ms"], "429": c["refused_429"]},
        {"phase": f"2x overload ({figures['overload_rate_per_s']}/s offered)", "rate/s": o["ok_per_s"], "p50 ms": o["p50_ms"], "p95 ms": o["p95_ms"],
         "429": f"{o['refused_429']} ({100 * o['refused_share']:.0f}%, {o['refused_with_retry_after']} with Retry-After)"},
        {"phase": "recovery (right after)", "rate/s": r["ok_per_s"], "p50 ms": r["p50_ms"], "p95 ms": r["p95_ms"], "429": r["refused_429"]},
        {"phase": "admitted p95 / unloaded p95", "rate/s": "", "p50 ms": "", "p95 ms": figures["admitted_p95_vs_unloaded"], "429": ""},
        {"phase": "server RSS before / peak (MB)", "rate/s": "", "p50 ms": figures["rss_mb"]["before"], "p95 ms": figures["rss_mb"]["peak"], "429": ""},
    ]  # fmt: skip
    for name, w in figures.get("workers", {}).items():
        rows.append({"phase": f"{name.replace('_', ' ')}: cold / cached req/s", "rate/s": w["cold_per_s"],
                     "p50 ms": "", "p95 ms": w["cached_per_s"], "429": ""})  # fmt: skip
    return rows


SECTIONS: dict[str, Callable[[bool], Rows]] = {
    "api": api,
    "encoder": encoder,
    "faiss": faiss_index,
    "ontology": ontology,
    "ingest": ingest,
    "batch": batch,
    "overload": overload,
}


def markdown(info: dict[str, Any], results: dict[str, Any]) -> str:
    out = ["# hardneg benchmarks", "", "| machine | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in info.items()]
    for name, res in results.items():
        out += ["", f"## {name}", ""]
        rows = res.get("rows") or []
        if not rows:
            out.append(f"not measured here: {res.get('skipped', 'no rows')}")
            continue
        cols = list(rows[0])
        out += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        out += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
        out.append(f"\n({res['seconds']:.0f} s)")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (minutes, not tens)")
    ap.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    ap.add_argument("--out", type=Path, default=BENCH / "results")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    info = machine()
    print(json.dumps(info, indent=2), flush=True)
    results: dict[str, Any] = {}
    for name in [s.strip() for s in args.only.split(",") if s.strip()]:
        start = time.perf_counter()
        try:
            results[name] = {"rows": SECTIONS[name](args.quick)}
        except Exception as exc:  # a section that cannot run here is reported, not fatal
            traceback.print_exc()
            results[name] = {"rows": [], "skipped": f"{type(exc).__name__}: {exc}"}
        results[name]["seconds"] = time.perf_counter() - start
        print(f"== {name}: {json.dumps(results[name]['rows'])}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(
        json.dumps({"machine": info, "results": results}, indent=2)
    )
    (args.out / "results.md").write_text(markdown(info, results))
    print(markdown(info, results))
    print(f"written: {args.out / 'results.md'}, {args.out / 'results.json'}")


if __name__ == "__main__":
    main()
