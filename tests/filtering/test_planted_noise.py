"""Planted mismatches: chosen deterministically, never a pair's own passage, and removed by the
filter when the embedding makes the right answer known."""

import re

import numpy as np
import pytest

from filtering.index import available_backends
from filtering.planted_noise import plant_mismatches, run_planted_noise


def test_planting_is_deterministic_and_never_keeps_the_own_passage():
    hashes = np.arange(1000, dtype=np.uint64)
    hashes[500:] = hashes[:500]  # every passage text appears twice
    donor, planted = plant_mismatches(hashes, fraction=0.2, seed=3)
    again_donor, again_planted = plant_mismatches(hashes, fraction=0.2, seed=3)
    np.testing.assert_array_equal(donor, again_donor)
    np.testing.assert_array_equal(planted, again_planted)
    assert planted.sum() == 200
    rows = np.flatnonzero(planted)
    assert np.all(donor[rows] != rows)
    assert np.all(hashes[donor[rows]] != hashes[rows])  # not even a copy of its own text
    np.testing.assert_array_equal(donor[~planted], np.flatnonzero(~planted))
    other_seed, _ = plant_mismatches(hashes, fraction=0.2, seed=4)
    assert not np.array_equal(other_seed, donor)


def test_a_pair_with_no_other_text_stays_clean():
    donor, planted = plant_mismatches(np.zeros(10, np.uint64), fraction=0.5, seed=0)
    assert not planted.any() and donor.tolist() == list(range(10))


N_TOPICS = 40


def topic_embedding(calls):
    """Each text names one topic; it embeds to that topic's axis. Queries and passages of a clean
    pair share a topic, so its passage scores 1.0; a planted passage has another topic (0.0) while
    the pool holds two passages on the query's topic (1.0): rank 3, dropped at k=2. Clean pairs
    tie with those two (1.0 each) and ties favour the pair: rank 1, kept."""

    def embed(texts, kind):
        assert kind in ("query", "passage")
        calls.append((kind, len(texts)))
        vectors = np.zeros((len(texts), N_TOPICS), np.float32)
        for row, text in enumerate(texts):
            vectors[row, int(re.search(r"topic (\d+)", text).group(1))] = 1.0
        return vectors

    return embed


@pytest.mark.parametrize("backend", [
    "numpy",
    pytest.param("faiss-cpu", marks=pytest.mark.skipif("faiss-cpu" not in available_backends(),
                                                         reason="faiss-cpu is not installed here")),
    "torch-cpu",
])
def test_planted_pairs_are_removed_and_clean_pairs_kept(backend):
    queries = [f"what is topic {t}?" for t in range(N_TOPICS)]
    passages = [f"topic {t} is explained here" for t in range(N_TOPICS)]
    pool = [f"pool text {v} on topic {t}" for t in range(N_TOPICS) for v in "ab"]
    pool += passages[:10]  # the pool may contain the pairs' own passages: they are left out
    calls = []
    report = run_planted_noise(
        queries, passages, pool, topic_embedding(calls), fraction=0.2, seed=1, backend=backend
    )
    assert report.n_pairs == 40 and report.n_planted == 8 and report.pool_size == 90
    assert report.planted_removed == 1.0
    assert report.clean_kept == 1.0
    np.testing.assert_array_equal(report.result.rank[report.planted], 3)
    np.testing.assert_array_equal(report.result.rank[~report.planted], 1)
    assert sorted(calls) == [("passage", 40), ("passage", 90), ("query", 40)]
    assert report.summary()["planted_removed"] == 1.0

