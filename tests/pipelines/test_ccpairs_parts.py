"""The corpus job's parts: its combiners keep the CombineFn contract; shard layout; a hot bucket; the Dataflow graph."""

import random

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pytest
from apache_beam.testing.util import assert_that, equal_to

from filtering import pool
from filtering.corpus_keys import pair_rank, rank_bytes
from pipelines import ccpairs, sink
from pipelines.options import parse_options
from schemas import reasons, versions
from schemas.pairs import PAIR_SCHEMA, make_pair
from sources.demo_inputs.corpus import planted_corpus
from tests.pipelines.test_combiners import scrambled, sequential


def _pair(i, source="reddit", score=None, passage=None):
    return make_pair(source=source, subsource="s", query=f"q{i % 5}", passage=passage or f"passage {i % 7}",
                     query_id=f"q{i}", passage_id=f"p{i}", score=score)


def _chunks(rng, rows, size):
    return [rows[i:i + size] for i in range(0, len(rows), size)]


def _as_lists(chunk):
    return [column.tolist() for column in chunk]


@pytest.mark.parametrize("seed", range(5))
def test_best_and_sum_per_key_are_combiners_that_agree_with_pair_rank(seed):
    rng = random.Random(seed)
    pairs = [_pair(i, rng.choice(["reddit", "stackexchange"]), rng.choice([None, 1, 5, 5, -3])) for i in range(60)]
    keys = [rng.choice([b"k1" * 8, b"k2" * 8, b"\x00" * 16, b"k3\x00" * 4]) for _ in pairs]
    ranks = [rank_bytes(p["score"], p["pair_id"]) for p in pairs]
    chunks = []
    for rows in _chunks(rng, list(range(60)), 7):
        chunks.append((np.array([keys[i] for i in rows], dtype="S16"), np.array([ranks[i] for i in rows]),
                       np.array(rows)))
    fn = ccpairs.BestPerKeyFn()
    best = sequential(fn, chunks)
    assert _as_lists(scrambled(fn, chunks, rng))[:2] == _as_lists(best)[:2]  # equal ranks are one pair_id
    expected = {}
    for i, (key, pair) in enumerate(zip(keys, pairs)):
        if key not in expected or pair_rank(pair) < pair_rank(pairs[expected[key]]):
            expected[key] = i
    assert dict(zip(best[0].tolist(), best[1].tolist())) == {k.rstrip(b"\x00"): ranks[i].rstrip(b"\x00")
                                                              for k, i in expected.items()}
    assert all(ranks[i].rstrip(b"\x00") == r for i, r in zip(best[2].tolist(), best[1].tolist()))
    counts = [(np.array([keys[i] for i in rows], dtype="S16"), np.ones(len(rows), dtype=np.int64))
              for rows in _chunks(rng, list(range(60)), 9)]
    fn = ccpairs.SumPerKeyFn()
    summed = sequential(fn, counts)
    assert _as_lists(scrambled(fn, counts, rng)) == _as_lists(summed)
    assert sorted(summed[1].tolist()) == sorted(keys.count(k) for k in set(keys))


@pytest.mark.parametrize("seed", range(5))
def test_bottom_k_is_a_combiner(seed):
    rng = random.Random(seed)
    entries = [pool.pool_entry(f"text {rng.randint(0, 60)}", f"id{i % 50}", "reddit") for i in range(200)]
    samples = [[(e.text_hash, e.source, e.passage_id, ((i // 20, i % 20),))] for i, e in enumerate(entries)]
    fn = ccpairs.PoolIdsCombineFn(10)
    assert scrambled(fn, samples, rng) == sequential(fn, samples)
    assert len(sequential(fn, samples)) == 10


def test_shard_layout_gives_each_source_its_own_shards():
    assert ccpairs.shard_layout({"b": 10, "a": 450_000}) == {"a": (0, 3), "b": (3, 1)}
    assert ccpairs.shard_layout({"a": 300, "b": 100}, num_shards=8) == {"a": (0, 6), "b": (6, 2)}
    assert ccpairs.shard_layout({"a": 0}) == {"": (0, 1)}


def test_the_layout_is_sized_by_the_input_manifests_pairs_and_bounds_every_shard(monkeypatch):
    """Known at launch (so Prepare computes each pair's shard once): a source's shards come from its input
    pairs, dropped ones included, so no shard holds more than MAX_ROWS_PER_SHARD rows whatever the dedup keeps."""
    lineage = [{"pairs_by_source": {"b": 100, "a": 300}}, {"pairs_by_source": {"c": 0}}]
    assert ccpairs.input_layout(lineage, num_shards=8) == {"a": (0, 6), "b": (6, 2)}
    assert ccpairs.input_layout([]) == {"": (0, 1)}
    monkeypatch.setattr(sink, "MAX_ROWS_PER_SHARD", 40)
    layout = ccpairs.input_layout(lineage, num_shards=2)
    assert layout == {"a": (0, 8), "b": (8, 3)}
    ids = [f"a{i}" for i in range(300)] + [f"b{i}" for i in range(100)]
    shards = ccpairs._shards_of(ids, ["a"] * 300 + ["b"] * 100, layout)
    assert set(shards[:300].tolist()) == set(range(8)) and set(shards[300:].tolist()) == set(range(8, 11))
    assert np.bincount(shards).max() <= 2 * 40  # blake2b spreads the ids; the count bounds the mean


def test_a_hot_bucket_keeps_one_survivor(pipeline):
    """500 pages sharing one boilerplate passage (each with its own page number) and one unrelated
    passage: the best-ranked copy survives, every other is a near duplicate. The shared buckets are
    only ever a running minimum (a combiner), never a group of 500."""
    boiler = " ".join(f"word{i}" for i in range(200))
    pairs = [_pair(i, score=i, passage=f"{boiler} page {i}") for i in range(500)]
    pairs.append(_pair(999, score=0, passage="something else entirely, nothing like the boilerplate at all"))
    config = ccpairs.CorpusSettings()
    tables = [pa.Table.from_pylist(pairs[i:i + 50], schema=PAIR_SCHEMA) for i in range(0, len(pairs), 50)]
    prepared = pipeline | beam.Create(tables) | beam.ParDo(
        ccpairs.PreparePairs(config, [], ccpairs.Partitions(), layout={"reddit": (0, 2)})).with_outputs(
        "outcomes", "stubs", "pair_text", "passages", "candidates", main="rows")
    result = ({tag: prepared[tag] for tag in ("stubs", "pair_text", "passages", "candidates")}
              | ccpairs.Deduplicate(config, ccpairs.Partitions()))
    by_id = {p["pair_id"]: p["passage_id"] for p in pairs}
    kept = result["kept"] | "Ids" >> beam.FlatMap(lambda kv: [by_id[i.decode()] for i in kv[1].tolist()])
    assert_that(kept, equal_to(["p499", "p999"]))
    assert_that(result["outcomes"] | "Sum" >> beam.CombinePerKey(sum),
                equal_to([(("reddit", "dropped/" + reasons.DROP_NEAR_DUPLICATE), 499), (("reddit", "used"), 2)]),
                label="outcomes")
    pipeline.run()


def test_dataflow_job_graph_builds(tmp_path):
    """The corpus job builds its Dataflow graph (dry run: nothing submitted), as the sources do."""
    pytest.importorskip("apache_beam.runners.dataflow.internal.apiclient", reason="needs apache-beam[gcp]")
    from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner

    pairs, _ = planted_corpus(n_plain=3)
    inputs = [str(versions.write_pair_version(tmp_path / s / "v1", rows, dataset=s)) for s, rows in pairs.items()]
    argv = [a for d in inputs for a in ("--input", d)] + [
        "--output", str(tmp_path / "out"), "--version", "df", "--runner=DataflowRunner", "--project=ccpairs-test",
        "--region=us-central1", "--temp_location=gs://ccpairs-test/tmp", "--setup_file=./setup.py",
        "--job_name=ccpairs-corpus-test", "--no_auth", "--dry_run=True", "--sdk_location=container"]
    options = parse_options(argv, ccpairs.CorpusOptions)
    pipeline = beam.Pipeline(runner=DataflowRunner(), options=options)
    claim = ccpairs.build_pipeline(pipeline, options)
    result = pipeline.run()
    steps = [t.unique_name for t in result.job.proto_pipeline.components.transforms.values()]
    for expected in ("BestPerBucket", "PointsPerPassage", "JoinMarks", "BottomK", "WriteManifest"):
        assert any(expected in s for s in steps), expected
    versions.release(claim)
    assert not (tmp_path / "out" / "ccpairs" / "df").exists()


def test_a_small_evaluation_set_is_read_once_at_launch_and_shipped(tmp_path, monkeypatch):
    from tests.filtering.test_decontamination import _beir

    folder = _beir(tmp_path / "b", ["find w1"], [" ".join(f"w{i}" for i in range(40))], qrels=["d0"])
    summary, shipped = ccpairs.read_eval_folders([folder], 13)
    assert summary[0]["queries"] == 1 and shipped is not None and shipped.ngrams.size == 28
    fn = ccpairs.PreparePairs(ccpairs.CorpusSettings(), [folder], ccpairs.Partitions(), shipped, layout={})
    fn.setup()
    assert fn._eval is shipped  # not read again
    monkeypatch.setattr(ccpairs, "SHIPPED_EVAL_NGRAMS", 10)  # a large set: each worker reads the folders
    summary_again, none = ccpairs.read_eval_folders([folder], 13)
    assert none is None and summary_again == summary
    fn = ccpairs.PreparePairs(ccpairs.CorpusSettings(), [folder], ccpairs.Partitions(), none, layout={})
    fn.setup()
    assert (fn._eval.ngrams == shipped.ngrams).all()
    assert ccpairs.read_eval_folders([], 13) == ([], None)
