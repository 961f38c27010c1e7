"""FAISS inner-product index behind a small class: exact for small sets, approximate past a size.

Vectors are L2-normalised, so inner product = cosine. ``auto`` picks an exact ``IndexFlatIP`` up
to ``approx_threshold`` vectors and HNSW beyond (IVF on a GPU, where FAISS has no HNSW). With
``faiss.get_num_gpus() > 0`` flat and IVF indexes move to the GPU; the API and results match.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

KINDS = ("auto", "flat", "hnsw", "ivf")
GPU_KINDS = ("flat", "ivf")  # FAISS cannot move HNSW to a GPU
GPU_MAX_K = 2048  # FAISS GPU k-selection limit
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256  # recall@10 ~0.95 on hard 384-d data; see docs/similarity.md


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:
        raise ImportError(
            f"faiss is not importable ({exc}); pip install faiss-cpu, or 'hardneg[gpu]' for"
            " faiss-gpu"
        ) from exc
    return faiss


def resolve_kind(kind: str, n: int, approx_threshold: int, num_gpus: int) -> str:
    """The concrete index kind for ``n`` vectors: flat up to the threshold, then HNSW (IVF on GPU)."""
    if kind not in KINDS:
        raise ValueError(f"unknown index kind {kind!r}; expected one of {KINDS}")
    if kind != "auto":
        return kind
    if n <= approx_threshold:
        return "flat"
    return "ivf" if num_gpus > 0 else "hnsw"


def gpu_plan(kind: str, num_gpus: int, has_gpu_api: bool) -> bool:
    """Whether an index of this kind goes to the GPU: a GPU is visible and FAISS can move it."""
    return num_gpus > 0 and has_gpu_api and kind in GPU_KINDS


def ivf_lists(n: int) -> int:
    """IVF list count: ~4*sqrt(n), but at least 39 training points per list."""
    return max(1, min(int(4 * math.sqrt(max(n, 1))), n // 39))


class VectorIndex:
    """FAISS inner-product index behind a small class; exact (IndexFlatIP) for small sets, HNSW (or IVF)
    past `approx_threshold`; faiss.index_cpu_to_gpu when faiss.get_num_gpus() > 0, else CPU, same API.
    """

    def __init__(self, dim: int, approx_threshold: int = 100_000, kind: str = "auto") -> None:
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        resolve_kind(kind, 0, approx_threshold, 0)  # validates the name now, not at build
        self.dim = dim
        self.approx_threshold = approx_threshold
        self.kind = kind
        self.ef_search = HNSW_EF_SEARCH  # HNSW search breadth: higher = better recall, slower
        self._index: Any = None
        self._gpu_res: Any = None

    @property
    def size(self) -> int:
        return 0 if self._index is None else int(self._index.ntotal)

    @property
    def on_gpu(self) -> bool:
        return self._gpu_res is not None

    def _check(self, name: str, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"{name} must have shape (n, {self.dim}), got {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError(f"{name} contain NaN or infinite values")
        return np.ascontiguousarray(x)

    def build(self, vectors: np.ndarray) -> None:
        """Replace the contents with ``vectors`` (row i gets id i)."""
        faiss = _faiss()
        x = self._check("vectors", vectors)
        kind = resolve_kind(self.kind, len(x), self.approx_threshold, faiss.get_num_gpus())
        if kind == "ivf" and len(x) < 39:
            kind = "flat"  # too few points to train lists; exact is cheaper anyway
        index = self._new_cpu_index(faiss, kind, len(x))
        if kind == "ivf":
            index.train(x)
        self.kind = kind
        self._place(faiss, index)
        self._index.add(x)

    def _new_cpu_index(self, faiss: Any, kind: str, n: int) -> Any:
        if kind == "flat":
            return faiss.IndexFlatIP(self.dim)
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(self.dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index.hnsw.efSearch = self.ef_search
            return index
        nlist = ivf_lists(n)
        index = faiss.IndexIVFFlat(
            faiss.IndexFlatIP(self.dim), self.dim, nlist, faiss.METRIC_INNER_PRODUCT
        )
        index.nprobe = min(nlist, max(8, nlist // 8))
        return index

    def _place(self, faiss: Any, cpu_index: Any) -> None:
        """Keep ``cpu_index`` on the CPU or move it to GPU 0, per :func:`gpu_plan`."""
        has_api = hasattr(faiss, "StandardGpuResources")
        if gpu_plan(self.kind, faiss.get_num_gpus(), has_api):
            self._gpu_res = faiss.StandardGpuResources()
            self._index = faiss.index_cpu_to_gpu(self._gpu_res, 0, cpu_index)
            log.info("FAISS %s index on GPU 0", self.kind)
        else:
            self._gpu_res = None
            self._index = cpu_index

    def add(self, vectors: np.ndarray) -> None:
        """Append ``vectors`` (ids continue from ``size``); the index kind stays as built."""
        if self._index is None:
            self.build(vectors)
            return
        self._index.add(self._check("vectors", vectors))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (n_queries, k); missing neighbours have id -1 and score -inf."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        q = self._check("queries", queries)
        if self.size == 0:
            return np.full((len(q), k), -np.inf, np.float32), np.full((len(q), k), -1, np.int64)
        if self.on_gpu and k > GPU_MAX_K:
            raise ValueError(f"k={k} exceeds the FAISS GPU limit of {GPU_MAX_K}")
        if self.kind == "hnsw":
            faiss = _faiss()
            params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, 2 * k))
            scores, ids = self._index.search(q, k, params=params)
        else:
            scores, ids = self._index.search(q, k)
        scores = np.asarray(scores, dtype=np.float32)
        ids = np.asarray(ids, dtype=np.int64)
        scores[ids < 0] = -np.inf
        return scores, ids

    def stored_vectors(self) -> np.ndarray | None:
        """Every stored row, in insertion order (None where the index cannot give them back:
        on a GPU, or an IVF index without a direct map)."""
        if self._index is None or self.on_gpu:
            return None
        try:
            return np.asarray(self._index.reconstruct_n(0, self._index.ntotal), dtype=np.float32)
        except RuntimeError:
            return None

    def save(self, path: Path) -> None:
        """Write the index to ``path`` atomically (a CPU copy when it lives on the GPU)."""
        if self._index is None:
            raise ValueError("cannot save an index that was never built")
        faiss = _faiss()
        cpu = faiss.index_gpu_to_cpu(self._index) if self.on_gpu else self._index
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        faiss.write_index(cpu, str(tmp))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, approx_threshold: int = 100_000) -> VectorIndex:
        """Read an index written by :meth:`save`; it goes to the GPU when one is visible."""
        faiss = _faiss()
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no FAISS index at {path}")
        try:
            cpu = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise ValueError(f"{path} is not a readable FAISS index: {exc}") from exc
        if cpu.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise ValueError(f"{path} is not an inner-product index")
        self = cls(int(cpu.d), approx_threshold=approx_threshold)
        self.kind = _kind_of(faiss, cpu, path)
        self._place(faiss, cpu)
        return self


def _kind_of(faiss: Any, index: Any, path: Path) -> str:
    if isinstance(index, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(index, faiss.IndexIVF):
        return "ivf"
    if isinstance(index, faiss.IndexFlat):
        return "flat"
    raise ValueError(f"{path} holds a {type(index).__name__}, not a flat/HNSW/IVF index")
