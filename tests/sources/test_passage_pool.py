"""The corpus job's pool is the filter's pool: same hash, same sample, same file format."""

import random

from filtering import pool as filter_pool
from filtering.text_hash import text_hash as filter_text_hash
from sources import passage_pool as P


def _passages(n, seed=0):
    rng = random.Random(seed)
    texts = [f"passage {rng.randint(0, n // 2)} about {rng.choice(['tea', 'Tea', 'TEA  '])}" for _ in range(n)]
    return [(t, f"id{i}", rng.choice(["reddit", "stackexchange"])) for i, t in enumerate(texts)]


def test_text_hash_is_the_filters():
    for text in ["A passage", "a   PASSAGE ", "ünïcode\u00a0text", ""]:
        assert P.text_hash(text) == filter_text_hash(text)


def test_bottom_k_equals_the_filters_sample_whatever_the_split():
    passages = _passages(600)
    expected = filter_pool.BottomKSample(50)
    for passage, pid, source in passages:
        expected.offer_passage(passage, pid, source)
    parts = [P.BottomK(50) for _ in range(4)]
    for i, (passage, pid, source) in enumerate(passages):
        parts[i % 4].add(P.pool_entry(passage, pid, source))
    merged = parts[3].merge(parts[1]).merge(parts[0]).merge(parts[2])
    assert [tuple(vars(e).values()) for e in expected.entries()] == merged.entries()
    assert len(merged.entries()) == 50


def test_pool_table_has_the_filters_schema_and_rows():
    passages = _passages(100)
    sample = P.BottomK(20)
    for passage, pid, source in passages:
        sample.add(P.pool_entry(passage, pid, source))
    table = P.pool_table(sample.entries())
    assert P.POOL_SCHEMA.equals(filter_pool.POOL_SCHEMA, check_metadata=True)
    expected = filter_pool.Pool(tuple(filter_pool.PoolEntry(*e) for e in sample.entries())).to_table()
    assert table.equals(expected)


def test_size_zero_keeps_nothing():
    sample = P.BottomK(0).add(P.pool_entry("x", "1", "s"))
    assert sample.entries() == []
