"""MinHash LSH: the S-curve we state is the one we get, on planted near-copies."""

import random

import pytest
from datasketch.lsh import _optimal_param

from filtering.minhash import (LshParams, MinHasher, candidate_probability, choose_bands_rows, jaccard, permutations,
                               shingles)
from sources.demo_inputs.corpus import edit_words, vocabulary


def test_bands_and_rows_are_datasketchs_choice_for_the_same_weights():
    assert choose_bands_rows(0.8, 256) == (21, 12)
    for threshold, num_perm in ((0.8, 256), (0.7, 128), (0.9, 200)):
        assert choose_bands_rows(threshold, num_perm) == _optimal_param(threshold, num_perm, 0.2, 0.8)


def test_stated_curve_is_steep_around_the_threshold():
    params = LshParams()
    assert candidate_probability(0.85, params.bands, params.rows) > 0.95
    assert candidate_probability(0.5, params.bands, params.rows) < 0.01
    assert params.curve()["0.80"] == pytest.approx(0.7758, abs=1e-4)


def test_shingles_are_word_5grams_ignoring_case_and_punctuation():
    assert shingles("One two, THREE four five six") == {"one two three four five", "two three four five six"}
    assert shingles("Too short!") == {"too short"}
    assert shingles("?!") == {"?!"}
    assert jaccard("a b c d e f", "A b c d e, f") == 1.0


def _sharing_a_band(hasher, a, b):
    return bool(set(hasher.passage_band_keys(a)) & set(hasher.passage_band_keys(b)))


def test_planted_near_copies_are_candidates_and_dissimilar_ones_are_not():
    rng, vocab = random.Random(3), vocabulary()
    hasher = MinHasher(LshParams())
    similar, caught_similar, dissimilar, caught_dissimilar = 0, 0, 0, 0
    for rate in (0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.15, 0.2):
        for _ in range(40):
            text = " ".join(rng.choice(vocab) for _ in range(rng.randint(60, 150)))
            copy = edit_words(rng, text, rate, vocab)
            similarity, candidate = jaccard(text, copy), _sharing_a_band(hasher, text, copy)
            if similarity >= 0.85:
                similar, caught_similar = similar + 1, caught_similar + candidate
            elif similarity < 0.5:
                dissimilar, caught_dissimilar = dissimilar + 1, caught_dissimilar + candidate
    assert similar >= 60 and dissimilar >= 100
    assert caught_similar / similar >= 0.95
    assert caught_dissimilar == 0


def test_signatures_do_not_depend_on_the_worker():
    text = "the same passage on two workers gives the same buckets " * 3
    assert MinHasher(LshParams()).passage_band_keys(text) == MinHasher(LshParams()).passage_band_keys(text)
    assert len(MinHasher(LshParams()).passage_band_keys(text)) == 21


@pytest.mark.parametrize("kwargs", [dict(threshold=1.0), dict(threshold=0.0), dict(num_perm=8),
                                    dict(shingle_words=0)])
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        LshParams(**kwargs)


def test_permutations_are_datasketchs():
    from datasketch import MinHash

    expected = MinHash(num_perm=256, seed=1, scheme="affine32").permutations
    assert all((ours == theirs).all() for ours, theirs in zip(permutations(256), expected))


def test_signatures_estimate_the_exact_jaccard_similarity():
    """The share of equal signature values is an unbiased estimate of the shingle sets' Jaccard
    similarity (standard error sqrt(s(1-s)/k) with k values): the vectorised shingle hash keeps it."""
    rng, vocab = random.Random(11), vocabulary()
    hasher = MinHasher(LshParams())
    originals, copies = [], []
    for rate in (0.01, 0.02, 0.04, 0.06, 0.1, 0.2) * 20:
        text = " ".join(rng.choice(vocab) for _ in range(rng.randint(60, 200)))
        originals.append(text)
        copies.append(edit_words(rng, text, rate, vocab))
    a, b = hasher.signatures(originals), hasher.signatures(copies)
    k = a.shape[1]
    exact = [jaccard(x, y) for x, y in zip(originals, copies)]
    estimated = (a == b).mean(axis=1)
    errors = [(e - s) / max(1e-3, (s * (1 - s) / k) ** 0.5) for e, s in zip(estimated, exact)]
    assert max(abs(z) for z in errors) < 4.5  # no estimate far outside its standard error
    assert abs(sum(errors) / len(errors)) < 0.35  # and no bias: the mean z of 120 pairs is ~N(0, 1/120)
    assert abs(sum(x - y for x, y in zip(estimated, exact)) / len(exact)) < 0.01


def test_batched_signatures_and_band_keys_equal_datasketchs_one_text_at_a_time():
    rng, vocab = random.Random(5), vocabulary()
    texts = [" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 400))) for _ in range(120)]
    texts += ["Too short!", "?!", "", "a b c d e", "Ünïcode wörds, ÉCRITS en majuscules et ß straße à la fin",
              "! ! ! ! !", "one"]
    hasher = MinHasher(LshParams())
    used = hasher.params.bands * hasher.params.rows
    signatures, blobs = hasher.signatures(texts), hasher.band_blobs(texts)
    for text, signature, blob in zip(texts, signatures, blobs):
        assert signature.tolist() == hasher.signature(text)[:used].tolist()
        assert blob.tobytes() == b"".join(hasher.passage_band_keys(text))
