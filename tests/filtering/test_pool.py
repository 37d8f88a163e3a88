"""The pool is a deterministic bottom-k sample of distinct normalised passages."""

import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from filtering.pool import BottomKSample, PoolEntry, POOL_SCHEMA, sample_pool
from filtering.text_hash import normalize_for_dedup, text_hash, text_hashes
from schemas.pairs import PAIR_SCHEMA, make_pair


def test_normalisation_casefolds_and_collapses_whitespace():
    assert normalize_for_dedup("  Hello\t\tWORLD \n again\u00a0! ") == "hello world again !"
    assert normalize_for_dedup("Straße") == normalize_for_dedup("STRASSE")
    assert text_hash("Hello  World") == text_hash("hello world\n")
    assert text_hash("hello world") != text_hash("hello worlds")
    assert 0 <= text_hash("x") < 2**64
    assert text_hashes(["a", "A "]).dtype == np.uint64
    assert text_hashes(["a", "A "])[0] == text_hashes(["a", "A "])[1]


def write_pairs(path, rows):
    table = pa.Table.from_pylist(
        [
            make_pair(
                source=s, subsource="x", query=f"q {pid}", passage=p, query_id="q", passage_id=pid
            )
            for s, pid, p in rows
        ],
        schema=PAIR_SCHEMA,
    )
    pq.write_table(table, path, row_group_size=7)


@pytest.fixture
def pair_rows():
    rows = [("reddit", f"t1_{i}", f"passage number {i} about topic {i % 13}") for i in range(300)]
    # Exact duplicates after normalisation, under other ids and sources.
    rows += [
        ("stackexchange", f"a_{i}", f"PASSAGE  number {i} about topic {i % 13} ")
        for i in range(0, 300, 3)
    ]
    return rows


def expected_sample(rows, size):
    best = {}
    for source, pid, passage in rows:
        entry = PoolEntry(text_hash(passage), source, pid, passage)
        best[entry.text_hash] = min(best.get(entry.text_hash, entry), entry)
    return [best[h] for h in sorted(best)[:size]]


def test_sample_is_the_smallest_distinct_hashes(tmp_path, pair_rows):
    write_pairs(tmp_path / "a.parquet", pair_rows[:200])
    write_pairs(tmp_path / "b.parquet", pair_rows[200:])
    pool = sample_pool([tmp_path / "a.parquet", tmp_path / "b.parquet"], size=50, batch_size=16)
    assert list(pool.entries) == expected_sample(pair_rows, 50)
    assert len(pool) == 50 and len(set(pool.hashes.tolist())) == 50
    assert pool.hashes.tolist() == sorted(pool.hashes.tolist())
    assert pool.texts[0] == pool.entries[0].passage
    assert pool.to_table().schema == POOL_SCHEMA


def test_sample_does_not_depend_on_file_or_row_order(tmp_path, pair_rows):
    shuffled = list(pair_rows)
    random.Random(0).shuffle(shuffled)
    write_pairs(tmp_path / "ordered.parquet", pair_rows)
    write_pairs(tmp_path / "s1.parquet", shuffled[:150])
    write_pairs(tmp_path / "s2.parquet", shuffled[150:])
    ordered = sample_pool([tmp_path / "ordered.parquet"], size=80)
    split = sample_pool([tmp_path / "s2.parquet", tmp_path / "s1.parquet"], size=80, batch_size=5)
    assert ordered.entries == split.entries


def test_duplicates_are_represented_by_the_smallest_record(pair_rows):
    sample = BottomKSample(1000)
    for source, pid, passage in reversed(pair_rows):
        sample.offer_passage(passage, pid, source)
    entries = sample.entries()
    assert len(entries) == 300  # 100 duplicates collapsed
    by_hash = {e.text_hash: e for e in entries}
    assert by_hash[text_hash("passage number 0 about topic 0")].source == "reddit"


def test_shard_samples_merge_into_the_sample_of_the_union(pair_rows):
    left, right, whole = BottomKSample(40), BottomKSample(40), BottomKSample(40)
    for i, (source, pid, passage) in enumerate(pair_rows):
        (left if i % 2 else right).offer_passage(passage, pid, source)
        whole.offer_passage(passage, pid, source)
    assert left.merge(right).entries() == whole.entries() == expected_sample(pair_rows, 40)


def test_size_beyond_distinct_passages_and_zero(pair_rows):
    big, empty = BottomKSample(10_000), BottomKSample(0)
    for source, pid, passage in pair_rows:
        big.offer_passage(passage, pid, source)
        empty.offer_passage(passage, pid, source)
    assert len(big.entries()) == 300 and empty.entries() == []
