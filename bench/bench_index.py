"""VectorIndex build/search time and recall@10 of the approximate kinds against exact search.

Vectors are unit vectors scattered around random centres (clusters of phrases, as embeddings of
a large vocabulary have), 384-d like MiniLM by default, with noise as large as the centre spread.
Three query sets: "in-dist" drawn like the data (a positive resembling vocabulary phrases),
"between" (the mean of two phrases from different clusters: a concept between two groups) and
"random" directions, all near-ties at cos ~0 (a worst case no real query hits).

    python bench/bench_index.py [--n 100000] [--dim 384] [--queries 1000]

Prints figures only; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from hardneg.service.similarity.index import VectorIndex


def clustered(n: int, dim: int, seed: int, clusters: int = 1000, noise: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).normal(size=(clusters, dim))
    x = centres[rng.integers(0, clusters, n)] + noise * rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def recall(ids: np.ndarray, truth: np.ndarray) -> float:
    k = truth.shape[1]
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(ids, truth, strict=True)]))


def timed_search(index: VectorIndex, q: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    _, ids = index.search(q, k)
    return ids, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()

    x = clustered(args.n, args.dim, seed=1)
    queries = {
        "in-dist": clustered(args.queries, args.dim, seed=2),
        "between": between(x, args.queries),
        "random": random_dirs(args),
    }
    print(
        f"{args.n} vectors x {args.dim}-d, {args.queries} queries per set, k={args.k},"
        f" {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'index':12s} {'queries':8s} {'build s':>8s} {'ms/query':>9s} {'recall@' + str(args.k):>10s}"
    )
    truth: dict[str, np.ndarray] = {}
    for kind in ("flat", "hnsw", "ivf"):
        index = VectorIndex(args.dim, kind=kind)
        start = time.perf_counter()
        index.build(x)
        built = time.perf_counter() - start
        for ef in [256, 512] if kind == "hnsw" else [None]:
            if ef is not None:
                index.ef_search = ef
            label = f"{kind} ef={ef}" if ef else kind
            for name, q in queries.items():
                ids, took = timed_search(index, q, args.k)
                truth.setdefault(name, ids)
                r = recall(ids, truth[name])
                print(f"{label:12s} {name:8s} {built:8.1f} {1000 * took / len(q):9.3f} {r:10.3f}")
    print(f"on_gpu={index.on_gpu} (faiss GPUs: {faiss_gpus()})")


def faiss_gpus() -> int:
    import faiss

    return int(faiss.get_num_gpus())


def between(x: np.ndarray, n: int) -> np.ndarray:
    rng = np.random.default_rng(4)
    q = x[rng.integers(0, len(x), n)] + x[rng.integers(0, len(x), n)]
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def random_dirs(args: argparse.Namespace) -> np.ndarray:
    q = np.random.default_rng(3).normal(size=(args.queries, args.dim))
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


if __name__ == "__main__":
    main()
