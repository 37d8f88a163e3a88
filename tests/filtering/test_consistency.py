"""The consistency rule on vectors with exact scores: ranks, ties, duplicates, the k boundary."""

import numpy as np
import pytest

from filtering.consistency import ConsistencyPool, consistency_filter, dedup_by_hash
from tests.filtering.exact import exact_vectors


def reference_ranks(queries, passages, pair_hashes, pool, pool_hashes):
    """rank = 1 + pool entries (other than duplicates of the passage) scoring strictly higher."""
    ranks = []
    for q, p, h in zip(queries.astype(np.float64), passages.astype(np.float64), pair_hashes):
        own = q @ p
        others = pool.astype(np.float64)[pool_hashes != h] @ q
        ranks.append(1 + int((others > own).sum()))
    return np.array(ranks)


def unit(*coords):
    v = np.array(coords, np.float32)
    return v / np.linalg.norm(v)


def test_ranks_match_brute_force_with_ties_on_every_backend(backend_case):
    backend, precision = backend_case
    rng = np.random.default_rng(11)
    pool = exact_vectors(rng, 400)
    pool_hashes = rng.integers(0, 2**63, size=400).astype(np.uint64)
    queries = exact_vectors(rng, 120)
    passages = exact_vectors(rng, 120)
    pair_hashes = rng.integers(0, 2**63, size=120).astype(np.uint64)
    # A third of the passages are in the pool (same text hash): they must not compete.
    pair_hashes[:40] = pool_hashes[:40]
    passages[:40] = pool[:40]
    # Another third tie exactly with the k-th (2nd) best pool score: the pool's runner-up copied
    # under a different text, so it still competes, and the pair must win the tie.
    runner_up = np.argsort(-(queries[40:80] @ pool.T), axis=1, kind="stable")[:, 1]
    passages[40:80] = pool[runner_up]
    # The rest are easy: the passage is the query itself.
    passages[80:] = queries[80:]
    expected = reference_ranks(queries, passages, pair_hashes, pool, pool_hashes)
    assert (expected == 1).any() and (expected == 2).any() and (expected > 2).any()

    built = ConsistencyPool.build(pool, pool_hashes, backend=backend, precision=precision)
    result = consistency_filter(queries, passages, pair_hashes, built, k=2, rank_depth=500)
    np.testing.assert_array_equal(result.rank, expected)
    np.testing.assert_array_equal(result.keep, expected <= 2)


def test_ranks_beyond_rank_depth_are_censored():
    rng = np.random.default_rng(2)
    pool = exact_vectors(rng, 200)
    queries, passages = exact_vectors(rng, 50), exact_vectors(rng, 50)
    hashes = np.arange(1000, 1050, dtype=np.uint64)
    built = ConsistencyPool.build(pool, np.arange(200, dtype=np.uint64), backend="numpy")
    full = reference_ranks(queries, passages, hashes, pool, np.arange(200, dtype=np.uint64))
    result = consistency_filter(queries, passages, hashes, built, k=2)
    np.testing.assert_array_equal(result.rank, np.minimum(full, 3))
    deeper = consistency_filter(queries, passages, hashes, built, k=2, rank_depth=10)
    np.testing.assert_array_equal(deeper.rank, np.minimum(full, 11))
    np.testing.assert_array_equal(deeper.keep, result.keep)


# Pool scores against the query e1 are exactly 0.75, 0.5, 0.25 (vectors are not unit: the rule
# only needs inner products, and these stay exact).
K_POOL = np.array([[0.75, 0, 0, 0], [0.5, 0, 0, 0], [0.25, 0, 0, 0]], np.float32)
K_QUERY = np.array([[1, 0, 0, 0]], np.float32)


@pytest.mark.parametrize(
    "pair_score, k, rank, keep",
    [
        (0.75, 2, 1, True),  # ties with the best pool entry: counts as first
        (0.5, 2, 2, True),  # exactly the k-th pool score: kept (ties favour the pair)
        (0.4375, 2, 3, False),  # just below the k-th pool score: dropped
        (0.4375, 3, 3, True),
        (0.25, 1, 3, False),
        (0.875, 1, 1, True),
    ],
)
def test_k_boundary(backend_case, pair_score, k, rank, keep):
    backend, precision = backend_case
    hashes = np.array([1, 2, 3], np.uint64)
    built = ConsistencyPool.build(K_POOL, hashes, backend=backend, precision=precision)
    passage = np.array([[pair_score, 0, 0, 0]], np.float32)
    result = consistency_filter(
        K_QUERY, passage, np.array([99], np.uint64), built, k=k, rank_depth=3
    )
    assert result.rank.tolist() == [rank]
    assert result.keep.tolist() == [keep]
    assert result.kth_pool_score[0] == K_POOL[k - 1, 0]
    assert result.pair_score[0] == pair_score


@pytest.mark.parametrize("copies", [1, 3, 60])
def test_duplicates_of_the_passage_are_excluded_however_many(backend_case, copies):
    """The pool holds `copies` entries with the pair's passage text (a differently-cased copy
    embeds differently and here outscores the pair): none of them may count against it."""
    backend, precision = backend_case
    query = unit(1, 0, 0, 0)[None]
    passage = np.array([[0.5, 0.5, 0.5, 0.5]], np.float32)  # s = 0.5
    duplicate = np.array([0.75, 0.5, 0.25, 0.0], np.float32)  # 0.75: beats the pair
    others = np.array([[0.625, 0, 0, 0], [0.25, 0, 0, 0], [0, 1, 0, 0]], np.float32)
    pool = np.concatenate([others[:1], np.repeat(duplicate[None], copies, 0), others[1:]])
    pool_hashes = np.array([10] + [42] * copies + [11, 12], np.uint64)

    built = ConsistencyPool.build(
        pool, pool_hashes, dedup=False, backend=backend, precision=precision
    )
    kept = consistency_filter(query, passage, np.array([42], np.uint64), built, k=2)
    assert kept.rank.tolist() == [2] and kept.keep.tolist() == [True]
    assert kept.kth_pool_score[0] == 0.25

    other_text = consistency_filter(query, passage, np.array([7], np.uint64), built, k=2)
    assert other_text.keep.tolist() == [False]  # same vectors, no shared text: they compete

    deduped = ConsistencyPool.build(pool, pool_hashes, backend=backend, precision=precision)
    assert len(deduped) == 4
    again = consistency_filter(query, passage, np.array([42], np.uint64), deduped, k=2)
    np.testing.assert_array_equal(again.rank, kept.rank)


def test_mixed_duplicate_counts_keep_input_order():
    """Pairs are searched in groups by duplicate count; results come back in input order."""
    rng = np.random.default_rng(4)
    pool = exact_vectors(rng, 100)
    pool_hashes = np.arange(100, dtype=np.uint64)
    pool_hashes[10:30] = 5  # hash 5 appears 21 times
    pool_hashes[40:43] = 7  # hash 7 appears 4 times
    queries, passages = exact_vectors(rng, 30), exact_vectors(rng, 30)
    pair_hashes = rng.choice(np.array([5, 7, 1000, 60], np.uint64), size=30)
    built = ConsistencyPool.build(pool, pool_hashes, dedup=False, backend="numpy")
    assert built.duplicate_counts(np.array([5, 7, 60, 1000], np.uint64)).tolist() == [21, 4, 1, 0]
    result = consistency_filter(queries, passages, pair_hashes, built, k=2, rank_depth=100)
    np.testing.assert_array_equal(
        result.rank, reference_ranks(queries, passages, pair_hashes, pool, pool_hashes)
    )


def test_pool_smaller_than_k_keeps_everything():
    built = ConsistencyPool.build(K_POOL[:1], np.array([1], np.uint64), backend="numpy")
    result = consistency_filter(K_QUERY, K_POOL[2:], np.array([9], np.uint64), built, k=2)
    assert result.keep.tolist() == [True] and np.isneginf(result.kth_pool_score[0])


def test_dedup_by_hash_keeps_first_occurrence_in_order():
    vectors = np.arange(12, dtype=np.float32).reshape(6, 2)
    hashes = np.array([5, 3, 5, 9, 3, 1], np.uint64)
    kept_vectors, kept_hashes = dedup_by_hash(vectors, hashes)
    assert kept_hashes.tolist() == [5, 3, 9, 1]
    np.testing.assert_array_equal(kept_vectors, vectors[[0, 1, 3, 5]])


def test_mismatched_lengths_are_refused():
    built = ConsistencyPool.build(K_POOL, np.array([1, 2, 3], np.uint64), backend="numpy")
    with pytest.raises(ValueError):
        consistency_filter(K_QUERY, K_POOL[:2], np.array([1], np.uint64), built)
