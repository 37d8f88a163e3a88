import collections
import json
import logging

import pyarrow.parquet as pq
import pytest

from model.data import IncompleteVersionError, PairBatcher, discover_sources, find_version_dirs
from model.pairs_io import pairs_from_texts, write_pair_version
from tests.model.conftest import make_texts


def take(batcher, n):
    return [batcher.next_batch() for _ in range(n)]


def test_sources_come_from_manifests(pairs_dir):
    sources = discover_sources([pairs_dir])
    assert {n: s.rows for n, s in sources.items()} == {"alpha": 96, "beta": 48}
    assert len(sources["alpha"].shards) == 2
    assert sources["alpha"].shards[0].row_group_rows == (16, 16, 16)


def test_every_batch_is_from_one_source_and_order_is_seeded(pairs_dir):
    a = take(PairBatcher([pairs_dir], batch_size=8, seed=1), 12)
    b = take(PairBatcher([pairs_dir], batch_size=8, seed=1), 12)
    c = take(PairBatcher([pairs_dir], batch_size=8, seed=2), 12)
    assert [x.pair_ids for x in a] == [x.pair_ids for x in b]
    assert [x.pair_ids for x in a] != [x.pair_ids for x in c]
    assert all(len(batch) == 8 for batch in a)
    by_id = {}
    for name in ("alpha", "beta"):
        for version in find_version_dirs(pairs_dir / name):
            for f in version.glob("*.parquet"):
                for row in pq.read_table(f, columns=["pair_id", "source"]).to_pylist():
                    by_id[row["pair_id"]] = row["source"]
    for batch in a:
        assert {by_id[p] for p in batch.pair_ids} == {batch.source}


def test_one_epoch_visits_every_pair_once(pairs_dir):
    batcher = PairBatcher([pairs_dir], batch_size=8, seed=3, weights={"alpha": 1, "beta": 0})
    seen = [p for b in take(batcher, 12) for p in b.pair_ids]  # 96 alpha pairs / 8
    assert len(seen) == len(set(seen)) == 96


def test_mixture_is_proportional_to_size_by_default(pairs_dir):
    batcher = PairBatcher([pairs_dir], batch_size=4, seed=0)
    counts = collections.Counter(batcher.choose_source(i) for i in range(3000))
    assert counts["alpha"] / 3000 == pytest.approx(2 / 3, abs=0.03)
    with pytest.raises(ValueError, match="missing"):
        PairBatcher([pairs_dir], batch_size=4, weights={"alpha": 1})


def test_identical_passages_and_queries_never_share_a_batch(tmp_path):
    items = make_texts(30, seed=4)
    # five pairs share one passage (different queries), five share one query (different passages)
    items += [(f"question number {i}", "The same answer.", f"dq{i}", "dp") for i in range(5)]
    items += [("One shared question?", f"answer variant {i}", "sq", f"sp{i}") for i in range(5)]
    write_pair_version(tmp_path / "p" / "v1", pairs_from_texts("p", items), rows_per_group=40)
    batcher = PairBatcher([tmp_path / "p"], batch_size=16, seed=0)
    for batch in take(batcher, 10):
        assert len({" ".join(p.casefold().split()) for p in batch.passages}) == 16
        assert len({" ".join(q.casefold().split()) for q in batch.queries}) == 16
    assert batcher.skipped_duplicates > 0


def test_resume_continues_the_same_stream(pairs_dir):
    straight = PairBatcher([pairs_dir], batch_size=8, seed=5)
    expected = [b.pair_ids for b in take(straight, 30)]
    first = PairBatcher([pairs_dir], batch_size=8, seed=5)
    got = [b.pair_ids for b in take(first, 13)]
    state = json.loads(json.dumps(first.state_dict()))  # survives serialisation
    second = PairBatcher([pairs_dir], batch_size=8, seed=5)
    second.load_state_dict(state)
    got += [b.pair_ids for b in take(second, 17)]
    assert got == expected
    other = PairBatcher([pairs_dir], batch_size=8, seed=6)
    with pytest.raises(ValueError, match="seed"):
        other.load_state_dict(state)


def test_incomplete_version_is_refused_or_skipped(pairs_dir, caplog):
    incomplete = pairs_dir / "alpha" / "v2"
    write_pair_version(incomplete, pairs_from_texts("alpha", make_texts(8, seed=9)))
    (incomplete / "manifest.json").unlink()
    with pytest.raises(IncompleteVersionError, match="no manifest.json"):
        PairBatcher([incomplete], batch_size=4)
    with caplog.at_level(logging.WARNING):
        sources = discover_sources([pairs_dir])
    assert sources["alpha"].rows == 96  # v2 left out
    assert "incomplete" in caplog.text and "v2" in caplog.text


def test_too_few_distinct_pairs_is_an_error(tmp_path):
    items = [(f"q{i}", "same passage", f"q{i}", "p") for i in range(10)]
    write_pair_version(tmp_path / "p" / "v1", pairs_from_texts("p", items))
    with pytest.raises(ValueError, match="fewer than 2 distinct"):
        PairBatcher([tmp_path / "p"], batch_size=4).next_batch()


def test_source_smaller_than_the_batch_gives_short_batches_of_distinct_pairs(tmp_path):
    items = [(f"q{i}", f"passage {i}", f"q{i}", f"p{i}") for i in range(3)]
    write_pair_version(tmp_path / "p" / "v1", pairs_from_texts("p", items))
    batcher = PairBatcher([tmp_path / "p"], batch_size=8)
    batch = batcher.next_batch()
    assert sorted(batch.passages) == ["passage 0", "passage 1", "passage 2"]
    assert batcher.short_batches == 1
