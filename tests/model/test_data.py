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


def filtered_version(path, source, n, seed):
    """A version as filtering.filter_pairs writes it: dataset "consistency", shards naming their source."""
    from schemas import versions

    write_pair_version(path, pairs_from_texts(source, make_texts(n, seed=seed)), dataset="consistency")
    manifest = versions.read_manifest(path)
    for shard in manifest["shards"]:
        shard["source"] = source
    versions.write_manifest(path, manifest)
    return path


def test_a_root_with_several_versions_of_a_source_reads_only_the_latest(pairs_dir, caplog):
    write_pair_version(pairs_dir / "alpha" / "v2", pairs_from_texts("alpha", make_texts(40, seed=11)))
    with caplog.at_level(logging.WARNING):
        sources = discover_sources([pairs_dir])
    assert sources["alpha"].rows == 40 and sources["beta"].rows == 48  # not 96 + 40
    assert {str(s.path.parent.name) for s in sources["alpha"].shards} == {"v2"}
    assert "alpha: using version v2, the latest complete one (left out: v1)" in caplog.text


def test_extracted_and_filtered_versions_never_mix(pairs_dir):
    from model.data import VersionChoiceError

    filtered_version(pairs_dir / "consistency" / "v1", "alpha", 30, seed=1)
    with pytest.raises(VersionChoiceError, match=r"mixes extracted versions .* with filtered ones"):
        discover_sources([pairs_dir])
    assert set(discover_sources([pairs_dir / "consistency"])) == {"alpha"}  # the filtered one alone is fine


def test_a_source_in_two_named_versions_is_refused(pairs_dir):
    from model.data import VersionChoiceError

    write_pair_version(pairs_dir / "alpha" / "v2", pairs_from_texts("alpha", make_texts(40, seed=11)))
    with pytest.raises(VersionChoiceError, match="source 'alpha' is in 2 versions"):
        discover_sources([pairs_dir / "alpha" / "v1", pairs_dir / "alpha" / "v2"])
    with pytest.raises(VersionChoiceError, match="source 'alpha' is in 2 versions"):
        discover_sources([pairs_dir, pairs_dir / "alpha" / "v1"])  # the walk picks v2, v1 named as well


def test_the_filter_output_dataset_is_known_as_filtered():
    from filtering import filter_pairs
    from model.data import FILTERED_DATASETS

    assert filter_pairs.DATASET in FILTERED_DATASETS


def test_a_recorded_batcher_reads_its_own_shards_whatever_the_folder_holds_now(pairs_dir):
    first = PairBatcher([pairs_dir], batch_size=8, seed=5)
    expected = [b.pair_ids for b in take(PairBatcher([pairs_dir], batch_size=8, seed=5), 20)]
    got = [b.pair_ids for b in take(first, 7)]
    state = first.state_dict()
    write_pair_version(pairs_dir / "alpha" / "v2", pairs_from_texts("alpha", make_texts(40, seed=11)))
    write_pair_version(pairs_dir / "gamma" / "v1", pairs_from_texts("gamma", make_texts(40, seed=12)))
    assert set(discover_sources([pairs_dir])) == {"alpha", "beta", "gamma"}  # a new walk differs
    resumed = PairBatcher.from_state(state, batch_size=8, seed=5)
    got += [b.pair_ids for b in take(resumed, 13)]
    assert got == expected
    same_sources = PairBatcher([pairs_dir / "alpha" / "v2", pairs_dir / "beta" / "v1"], batch_size=8, seed=5)
    with pytest.raises(ValueError, match="other shards"):
        same_sources.load_state_dict(state)


def test_a_recorded_shard_that_changed_is_refused(pairs_dir):
    state = PairBatcher([pairs_dir / "beta" / "v1"], batch_size=8).state_dict()
    write_pair_version(pairs_dir / "beta" / "v1", pairs_from_texts("beta", make_texts(30, seed=2)), num_shards=2)
    with pytest.raises(ValueError, match="changed: row groups"):
        PairBatcher.from_state(state, batch_size=8)


def test_latest_pointer_names_the_version_to_read(pairs_dir):
    from schemas import versions

    write_pair_version(pairs_dir / "alpha" / "v2", pairs_from_texts("alpha", make_texts(40, seed=11)))
    versions.write_latest(pairs_dir / "alpha", "v1")  # a scheduled run's last whole version
    assert discover_sources([pairs_dir])["alpha"].rows == 96
    assert set(discover_sources([pairs_dir / "alpha" / "LATEST"])) == {"alpha"}
    assert discover_sources([pairs_dir / "alpha" / "LATEST"])["alpha"].rows == 96
