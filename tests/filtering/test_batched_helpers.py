"""The corpus job's batched helpers give what their one-record-at-a-time definitions give (issue 25 round 3):
word hashes computed once per batch, the evaluation n-gram bitmap, the pool's bottom-k from a sort,
the stats counted per distinct combination."""

import hashlib
import pickle
import random

import numpy as np
import pytest

from filtering import corpus_stats
from filtering.corpus_keys import best_per_key, key_order, sum_per_key
from filtering.decontamination import WordHashes, _word_cache, load_eval_set, ngram_hash_array
from filtering.pool import BottomKSample, PoolEntry, PoolIdSample, bottom_k_indices, bottom_k_rows
from schemas import reasons
from sources.text.ngrams import words
from tests.filtering.test_decontamination import _beir

VOCABULARY = [f"w{i}" for i in range(60)] + ["Straße", "ÉCOLE", "naïve", "日本語"]


def _texts(rng, n, longest=40):
    return [" ".join(rng.choice(VOCABULARY) for _ in range(rng.randrange(0, longest))) for _ in range(n)]


def _word_hash(word):
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")


def test_word_hashes_are_each_words_blake2b_and_take_and_add_keep_lists_whole():
    rng = random.Random(1)
    token_lists = [words(t) for t in _texts(rng, 50)]
    _word_cache.clear()  # the cold path (every word new) and the warm one give the same
    cold = WordHashes.of(token_lists)
    warm = WordHashes.of(token_lists)
    expected = [_word_hash(w) for tokens in token_lists for w in tokens]
    assert cold.flat.tolist() == expected and warm.flat.tolist() == expected
    assert cold.lengths.tolist() == [len(t) for t in token_lists]
    rows = [7, 0, 3, 3, 49]
    assert WordHashes.of([token_lists[i] for i in rows]).flat.tolist() == cold.take(rows).flat.tolist()
    both = WordHashes.of(token_lists[:10]) + WordHashes.of(token_lists[10:])
    assert both.flat.tolist() == cold.flat.tolist() and both.lengths.tolist() == cold.lengths.tolist()
    assert WordHashes.of([[], []]).flat.size == 0
    for n in (1, 5, 13):
        grams, owners = ngram_hash_array(token_lists, n)
        again, again_owners = ngram_hash_array(cold, n)
        assert grams.tolist() == again.tolist() and owners.tolist() == again_owners.tolist()


def test_the_bitmap_never_hides_an_evaluation_ngram(tmp_path):
    rng = random.Random(2)
    docs = _texts(rng, 30, longest=60)
    eval_set = load_eval_set([_beir(tmp_path / "b", ["Find W1 now", "straße ÉCOLE"], docs)])
    grams = eval_set.ngrams
    assert eval_set._may_hold(grams).all()  # every evaluation n-gram passes the bitmap
    others = np.random.default_rng(3).integers(0, 2 ** 63, 100_000, dtype=np.uint64)
    assert eval_set._may_hold(others).mean() < 0.01  # almost nothing else does
    queries, passages = _texts(rng, 200, 20), _texts(rng, 199, 60) + [docs[0][:]]
    query_words, passage_words = [words(q) for q in queries], [words(p) for p in passages]
    query_words[5], passage_words[9] = words("find w1 now"), words("Straße école")
    got = eval_set.reasons(query_words, passage_words, WordHashes.of(passage_words))
    for i, (q, p) in enumerate(zip(query_words, passage_words)):  # one pair at a time, by the definition
        own = set(ngram_hash_array([q, p], 13)[0].tolist())
        expected = None
        if own & set(grams.tolist()):
            expected = reasons.DROP_EVAL_NGRAM
        if " ".join(q) in eval_set.queries or " ".join(p) in eval_set.queries:
            expected = reasons.DROP_EVAL_QUERY
        assert got[i] == expected, i
    assert got[5] == got[9] == reasons.DROP_EVAL_QUERY and got[-1] == reasons.DROP_EVAL_NGRAM


def test_bottom_k_rows_is_the_bottom_k_sample_of_every_row():
    rng = random.Random(4)
    for size in (0, 1, 5, 40, 1000):
        n = rng.randrange(0, 200)
        hashes = [rng.randrange(0, 60) for _ in range(n)]  # many shared hashes: ties broken by the entry
        sources = [rng.choice("ab") for _ in range(n)]
        ids = [f"p{rng.randrange(0, 9)}" for _ in range(n)]
        passages = [f"text {rng.randrange(0, 3)}" for _ in range(n)]
        sample = BottomKSample(size)
        for row in zip(hashes, sources, ids, passages):
            sample.offer(PoolEntry(*row))
        got = bottom_k_rows(np.array(hashes, dtype=np.uint64), sources, ids, passages, size)
        assert got == [tuple(e) for e in sample.entries()]


@pytest.mark.parametrize("seed", range(4))
def test_the_id_sample_of_shards_with_passages_read_back_is_the_bottom_k_sample(seed):
    """Shards' samples without passage text (ids and (shard, row)), merged in any order, then the winners'
    passages looked up: the same entries as BottomKSample offered every row, ties (one hash, source and
    passage_id in several shards with other passages) included."""
    rng = random.Random(seed)
    shards = []
    for _ in range(rng.randrange(1, 7)):
        n = rng.randrange(0, 80)
        shards.append(([rng.randrange(0, 50) for _ in range(n)], [rng.choice("ab") for _ in range(n)],
                       [f"p{rng.randrange(0, 4)}" for _ in range(n)], [f"text {rng.randrange(0, 4)}" for _ in range(n)]))
    for size in (0, 1, 7, 100):
        expected = BottomKSample(size)
        samples = []
        for index, (hashes, sources, ids, passages) in enumerate(shards):
            for row in zip(hashes, sources, ids, passages):
                expected.offer(PoolEntry(*row))
            sample = PoolIdSample(size)
            for key, source, passage_id, row in bottom_k_indices(np.array(hashes, dtype=np.uint64), sources, ids,
                                                                 passages, size):
                sample.offer(key, source, passage_id, ((index, row),))
            samples.append(sample)
        rng.shuffle(samples)
        merged = samples[0]
        for sample in samples[1:]:
            merged.merge(pickle.loads(pickle.dumps(sample)))
        got = [(key, source, passage_id, min(shards[i][3][row] for i, row in locations))
               for key, source, passage_id, locations in merged.entries()]
        assert got == [tuple(e) for e in expected.entries()]


def test_stats_counted_per_combination_equal_the_per_pair_counts():
    rng = random.Random(5)
    n = 300
    columns = ([rng.choice(["reddit", "se"]) for _ in range(n)], [rng.choice(["", "x", "y"]) for _ in range(n)],
               [rng.choice(["", "en", "de"]) for _ in range(n)], _texts(rng, n, 50), _texts(rng, n, 3000))
    expected = {}
    for row in zip(*columns):
        for key in corpus_stats.pair_stat_keys(*row):
            expected[key] = expected.get(key, 0) + 1
    assert corpus_stats.count_stats(*columns) == expected


def _best_per_key_by_string_sort(keys, ranks, *payloads):  # the definition: a rank sort, then a key sort
    order = np.argsort(ranks, kind="stable")
    order = order[np.argsort(keys[order], kind="stable")]
    keys = keys[order]
    first = np.r_[True, keys[1:] != keys[:-1]]
    return (keys[first], ranks[order[first]]) + tuple(p[order[first]] for p in payloads)


def test_best_and_sum_per_key_sort_keys_as_integers_and_agree_with_a_string_sort():
    gen = np.random.default_rng(6)
    for width in (3, 8, 10, 16, 20):
        n = 3000
        alphabet = np.array([0, 1, 7, 255], dtype=np.uint8)  # zero bytes, also trailing ones, and many repeats
        keys = gen.choice(alphabet, size=(n, width)).view(f"S{width}").ravel()
        ranks = np.array([b"%c%08d" % (gen.integers(0, 3), gen.integers(0, 50)) for _ in range(n)])
        payload = np.arange(n)
        got, expected = best_per_key(keys, ranks, payload), _best_per_key_by_string_sort(keys, ranks, payload)
        assert all((a == b).all() for a, b in zip(got, expected)), width
        assert (key_order(keys) == np.argsort(keys, kind="stable")).all()
        summed = sum_per_key(keys, np.ones(n, dtype=np.int64), payload)
        distinct, counts = np.unique(keys, return_counts=True)
        assert (summed[0] == distinct).all() and (summed[1] == counts).all()


def test_a_bottom_k_sample_pickles_as_plain_tuples_and_comes_back_whole():
    sample = BottomKSample(3)
    for i in range(6):
        sample.offer(PoolEntry(i * 7 % 5, "s", f"p{i}", f"text {i}"))
    again = pickle.loads(pickle.dumps(sample))
    assert again.entries() == sample.entries() and all(type(e) is PoolEntry for e in again.entries())
    assert b"PoolEntry" not in pickle.dumps(sample)
    again.offer(PoolEntry(0, "a", "p0", "text 0"))
    assert again.entries()[0] == PoolEntry(0, "a", "p0", "text 0")
