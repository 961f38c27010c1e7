"""VectorIndex on real FAISS: exact search vs numpy, HNSW/IVF recall, save/load, GPU selection."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from hardneg.service.similarity.index import VectorIndex, gpu_plan, resolve_kind


def clustered(n: int, dim: int, seed: int, clusters: int = 200) -> np.ndarray:
    """Unit vectors around random centres: neighbourhoods like real phrase embeddings have."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    x = centres[rng.integers(0, clusters, n)] + 0.5 * rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def recall_at(ids: np.ndarray, truth: np.ndarray) -> float:
    k = truth.shape[1]
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(ids, truth, strict=True)]))


def test_flat_search_matches_numpy():
    x, q = clustered(2000, 32, 1), clustered(50, 32, 2)
    index = VectorIndex(32)
    index.build(x)
    assert index.kind == "flat" and index.size == 2000 and not index.on_gpu
    scores, ids = index.search(q, 5)
    sims = q @ x.T
    expected = np.argsort(-sims, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(sims, expected, axis=1), atol=1e-5)


def test_one_query_as_a_vector_and_padding_past_the_size():
    x = clustered(3, 8, 3)
    index = VectorIndex(8)
    index.build(x)
    scores, ids = index.search(x[0], 5)
    assert ids.shape == (1, 5) and ids[0, 0] == 0
    assert ids[0, 3:].tolist() == [-1, -1] and np.isneginf(scores[0, 3:]).all()


def test_empty_and_unbuilt_indexes_return_only_padding():
    index = VectorIndex(8)
    scores, ids = index.search(np.ones((2, 8), np.float32), 3)
    assert (ids == -1).all() and np.isneginf(scores).all()
    index.build(np.zeros((0, 8), np.float32))
    assert index.size == 0 and (index.search(np.ones(8), 2)[1] == -1).all()


def test_add_continues_ids():
    x = clustered(100, 16, 4)
    index = VectorIndex(16)
    index.add(x[:60])  # add on an unbuilt index builds it
    index.add(x[60:])
    _, ids = index.search(x[[10, 90]], 1)
    assert ids[:, 0].tolist() == [10, 90]


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_save_load_roundtrip(tmp_path, kind):
    x, q = clustered(3000, 24, 5), clustered(20, 24, 6)
    index = VectorIndex(24, kind=kind)
    index.build(x)
    before = index.search(q, 10)
    path = tmp_path / "sub" / "vocab.faiss"
    index.save(path)
    loaded = VectorIndex.load(path)
    assert (loaded.kind, loaded.size, loaded.dim) == (kind, 3000, 24)
    after = loaded.search(q, 10)
    np.testing.assert_array_equal(before[1], after[1])
    np.testing.assert_allclose(before[0], after[0], atol=1e-6)


def test_hnsw_recall_at_10_against_exact():
    x, q = clustered(20_000, 64, 7), clustered(300, 64, 8)
    exact = VectorIndex(64, kind="flat")
    exact.build(x)
    approx = VectorIndex(64, approx_threshold=10_000)  # auto: past the threshold -> HNSW
    approx.build(x)
    assert approx.kind == "hnsw"
    _, truth = exact.search(q, 10)
    _, ids = approx.search(q, 10)
    assert recall_at(ids, truth) >= 0.9


def test_ivf_recall_at_10_against_exact():
    x, q = clustered(10_000, 32, 9), clustered(200, 32, 10)
    exact, ivf = VectorIndex(32, kind="flat"), VectorIndex(32, kind="ivf")
    exact.build(x)
    ivf.build(x)
    assert recall_at(ivf.search(q, 10)[1], exact.search(q, 10)[1]) >= 0.9


def test_kind_selection():
    assert resolve_kind("auto", 100_000, 100_000, 0) == "flat"
    assert resolve_kind("auto", 100_001, 100_000, 0) == "hnsw"
    assert resolve_kind("auto", 100_001, 100_000, 1) == "ivf"  # FAISS has no GPU HNSW
    assert resolve_kind("hnsw", 5, 100_000, 0) == "hnsw"
    with pytest.raises(ValueError, match="unknown index kind"):
        VectorIndex(8, kind="annoy")


def test_gpu_selection_logic():
    assert gpu_plan("flat", num_gpus=1, has_gpu_api=True)
    assert gpu_plan("ivf", num_gpus=2, has_gpu_api=True)
    assert not gpu_plan("hnsw", num_gpus=1, has_gpu_api=True)
    assert not gpu_plan("flat", num_gpus=0, has_gpu_api=True)
    assert not gpu_plan("flat", num_gpus=1, has_gpu_api=False)  # faiss-cpu wheel
    index = VectorIndex(8)
    index.build(clustered(10, 8, 11))
    assert index.on_gpu == (faiss.get_num_gpus() > 0)


def test_bad_input_is_a_clear_error(tmp_path):
    index = VectorIndex(8)
    with pytest.raises(ValueError, match=r"shape \(n, 8\)"):
        index.build(np.ones((3, 7), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        index.build(np.full((3, 8), np.nan, np.float32))
    index.build(np.ones((3, 8), np.float32))
    with pytest.raises(ValueError, match="k must be"):
        index.search(np.ones(8), 0)
    with pytest.raises(ValueError, match="never built"):
        VectorIndex(8).save(tmp_path / "x.faiss")
    with pytest.raises(FileNotFoundError):
        VectorIndex.load(tmp_path / "missing.faiss")
    (tmp_path / "junk.faiss").write_bytes(b"not an index")
    with pytest.raises(ValueError, match="not a readable FAISS index"):
        VectorIndex.load(tmp_path / "junk.faiss")


@pytest.mark.gpu
@pytest.mark.skipif(faiss.get_num_gpus() == 0, reason="faiss sees no GPU")
def test_gpu_index_gives_the_cpu_results(tmp_path):
    x, q = clustered(5000, 64, 12), clustered(50, 64, 13)
    gpu = VectorIndex(64, kind="flat")
    gpu.build(x)
    assert gpu.on_gpu
    cpu = faiss.IndexFlatIP(64)
    cpu.add(x)
    _, ids = cpu.search(q, 10)
    np.testing.assert_array_equal(gpu.search(q, 10)[1], ids)
    gpu.save(tmp_path / "g.faiss")
    assert VectorIndex.load(tmp_path / "g.faiss").on_gpu
