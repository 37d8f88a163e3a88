"""The sink's shard planning and sorting: bounded shards, the same order as a plain sort."""

import random

from pipelines import sink
from schemas.pairs import PAIR_SCHEMA, make_pair
from schemas.rejects import REJECT_SCHEMA, make_reject


def test_no_shard_exceeds_the_cap_even_when_fewer_are_asked_for():
    assert sink.shard_count(0, 0, 200_000) == 1
    assert sink.shard_count(450_000, 0, 200_000) == 3
    assert sink.shard_count(450_000, 2, 200_000) == 2
    rows = 1_300_000_000
    assert sink.shard_count(rows, 2000, 200_000) == rows // sink.MAX_ROWS_PER_SHARD  # 650k a shard asked: capped


def test_sorted_table_streams_rows_into_the_order_of_a_plain_sort(monkeypatch):
    monkeypatch.setattr(sink, "ARROW_BATCH_ROWS", 7)  # several batches
    rng = random.Random(3)
    pairs = [make_pair(source="s", subsource="", query=f"q{i}", passage=f"p{rng.random()}", query_id=f"a{i}",
                       passage_id=f"b{i}") for i in range(50)]
    table = sink.sorted_table(iter(pairs + [None]), PAIR_SCHEMA, sink.PAIR_SORT)
    assert table.column("pair_id").to_pylist() == sorted(p["pair_id"] for p in pairs)
    rejects = [make_reject(source="s", reason="invalid_json", input_file=f"f{i % 3}", raw=b"x",
                           position=None if i % 5 == 0 else rng.randint(1, 9)) for i in range(40)]
    table = sink.sorted_table(rejects, REJECT_SCHEMA, sink.REJECT_SORT)
    assert [(r["input_file"], r["position"] or -1) for r in table.to_pylist()] == sorted(
        (r["input_file"], r["position"] or -1) for r in rejects)
    assert sink.sorted_table([], PAIR_SCHEMA, sink.PAIR_SORT).num_rows == 0
