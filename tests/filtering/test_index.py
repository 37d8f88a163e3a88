"""Every backend returns the same best scores as a float64 brute force, ties included."""

import numpy as np
import pytest

from filtering.index import (
    NumpyIndex,
    TorchIndex,
    available_backends,
    build_index,
    round_to_precision,
    select_backend,
)
from tests.filtering.exact import exact_vectors


def reference_scores(queries, pool):
    return queries.astype(np.float64) @ pool.astype(np.float64).T


def check_against_reference(result, queries, pool, k):
    full = reference_scores(queries, pool)
    expected_best = -np.sort(-full, axis=1)[:, :k]
    np.testing.assert_array_equal(result.scores, expected_best.astype(np.float32))
    # Ids may differ among tied entries, but each must carry the score reported for it.
    rows = np.arange(len(queries))[:, None]
    np.testing.assert_array_equal(full[rows, result.ids], result.scores)
    for row in result.ids:
        assert len(set(row.tolist())) == k, "an entry was returned twice"


def test_backends_match_brute_force_with_ties(backend_case):
    backend, precision = backend_case
    rng = np.random.default_rng(7)
    pool = exact_vectors(rng, 300)
    pool[100:110] = pool[5]  # exact duplicate vectors: tied scores for every query
    queries = np.concatenate([exact_vectors(rng, 40), pool[:5]])
    index = build_index(pool, backend=backend, precision=precision, query_chunk=16)
    assert index.ntotal == 300 and index.dim == 8
    for k in (1, 3, 12):
        check_against_reference(index.search(queries, k), queries, pool, k)


@pytest.mark.parametrize("make", [NumpyIndex, TorchIndex], ids=["numpy", "torch-cpu"])
def test_pool_chunks_merge_to_the_same_answer(make):
    rng = np.random.default_rng(3)
    pool = exact_vectors(rng, 200)
    queries = exact_vectors(rng, 20)
    kwargs = {"device": "cpu"} if make is TorchIndex else {}
    # chunk_bytes small enough that the pool is scanned in many pieces of 17 rows.
    index = make(pool, query_chunk=7, chunk_bytes=7 * 17 * 4, **kwargs)
    check_against_reference(index.search(queries, 9), queries, pool, 9)


def test_k_beyond_pool_is_padded(backend_case):
    backend, precision = backend_case
    rng = np.random.default_rng(1)
    pool = exact_vectors(rng, 4)
    result = build_index(pool, backend=backend, precision=precision).search(pool, 6)
    assert result.scores.shape == (4, 6)
    assert np.all(result.ids[:, 4:] == -1) and np.all(np.isneginf(result.scores[:, 4:]))
    assert np.all(result.ids[:, :4] >= 0)


def test_empty_pool_returns_only_padding(backend_case):
    backend, precision = backend_case
    index = build_index(np.zeros((0, 8), np.float32), backend=backend, precision=precision)
    result = index.search(np.ones((3, 8), np.float32), 2)
    assert np.all(result.ids == -1) and np.all(np.isneginf(result.scores))


def test_pair_scores_match_pool_scores_on_reduced_storage(backend_case):
    """A pair's own score is computed on the same rounded passage the pool would hold."""
    backend, precision = backend_case
    rng = np.random.default_rng(5)
    pool = rng.standard_normal((50, 16)).astype(np.float32)
    pool /= np.linalg.norm(pool, axis=1, keepdims=True)
    index = build_index(pool, backend=backend, precision=precision)
    best = index.search(pool, 1)
    own = index.pair_scores(pool, pool)
    np.testing.assert_allclose(own, best.scores[:, 0], atol=index.score_tolerance)


def test_bf16_rounding_is_round_to_nearest_even():
    import torch

    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    expected = torch.from_numpy(x).to(torch.bfloat16).float().numpy()
    np.testing.assert_array_equal(round_to_precision(x, "bf16"), expected)


def test_auto_selection_prefers_gpu_then_faiss_cpu():
    backends = available_backends()
    assert backends[-1] == "numpy"
    assert select_backend() == backends[0]
    if "faiss-gpu" not in backends and "torch-cuda" not in backends and "faiss-cpu" in backends:
        assert select_backend() == "faiss-cpu"


def test_unknown_backend_and_precision_are_refused():
    pool = np.eye(4, dtype=np.float32)
    with pytest.raises(ValueError):
        build_index(pool, backend="annoy")
    with pytest.raises(ValueError):
        build_index(pool, backend="numpy", precision="int8")
