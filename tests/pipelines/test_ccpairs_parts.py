"""The corpus job's parts: its combiners keep the CombineFn contract; shard layout; a hot bucket; the Dataflow graph."""

import random

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from filtering import pool
from filtering.corpus_keys import pair_rank
from pipelines import ccpairs
from pipelines.options import parse_options
from schemas import reasons, versions
from schemas.pairs import make_pair
from sources.demo_inputs.corpus import planted_corpus
from tests.pipelines.test_combiners import scrambled, sequential


def _pair(i, source="reddit", score=None, passage=None):
    return make_pair(source=source, subsource="s", query=f"q{i % 5}", passage=passage or f"passage {i % 7}",
                     query_id=f"q{i}", passage_id=f"p{i}", score=score)


@pytest.mark.parametrize("seed", range(5))
def test_smallest_and_count_points_are_combiners(seed):
    rng = random.Random(seed)
    ranks = [pair_rank(_pair(i, rng.choice(["reddit", "stackexchange"]), rng.choice([None, 1, 5, 5])))
             for i in range(40)]
    best = sequential(ccpairs.Smallest(), ranks)
    assert scrambled(ccpairs.Smallest(), ranks, rng) == best == min(ranks)
    assert best[:2] == (False, -5)
    points = [rng.randint(0, 3) for _ in range(50)]
    assert scrambled(ccpairs.CountPoints(), points, rng) == sequential(ccpairs.CountPoints(), points) == sum(points)


@pytest.mark.parametrize("seed", range(5))
def test_bottom_k_is_a_combiner(seed):
    rng = random.Random(seed)
    entries = [pool.pool_entry(f"text {rng.randint(0, 60)}", f"id{i}", "reddit") for i in range(200)]
    fn = ccpairs.BottomKCombineFn(10)
    assert scrambled(fn, entries, rng) == sequential(fn, entries)
    assert len(sequential(fn, entries)) == 10


def test_shard_layout_gives_each_source_its_own_shards():
    assert ccpairs.shard_layout({"b": 10, "a": 450_000}) == {"a": (0, 3), "b": (3, 1)}
    assert ccpairs.shard_layout({"a": 300, "b": 100}, num_shards=8) == {"a": (0, 6), "b": (6, 2)}
    assert ccpairs.shard_layout({"a": 0}) == {"": (0, 1)}


def test_a_hot_bucket_keeps_one_survivor(pipeline):
    """500 pages sharing one boilerplate passage (each with its own page number) and one unrelated
    passage: the best-ranked copy survives, every other is a near duplicate. The shared buckets are
    only ever a running minimum (a combiner), never a group of 500."""
    boiler = " ".join(f"word{i}" for i in range(200))
    pairs = [_pair(i, score=i, passage=f"{boiler} page {i}") for i in range(500)]
    pairs.append(_pair(999, score=0, passage="something else entirely, nothing like the boilerplate at all"))
    result = pipeline | beam.Create(pairs) | ccpairs.Deduplicate(ccpairs.CorpusSettings())
    assert_that(result["pairs"] | "Ids" >> beam.Map(lambda p: p["passage_id"]), equal_to(["p499", "p999"]))
    assert_that(result["outcomes"] | "Sum" >> beam.CombinePerKey(sum),
                equal_to([(("reddit", "dropped/" + reasons.DROP_NEAR_DUPLICATE), 499)]), label="outcomes")
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
