"""The corpus-level consistency filter: a new version, resumable, splittable, accounted for."""

import os

import pyarrow.parquet as pq
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from filtering import filter_pairs  # noqa: E402
from filtering.consistency import ConsistencyPool, consistency_filter  # noqa: E402
from filtering.text_hash import text_hashes  # noqa: E402
from model.embed import embed_texts, load_encoder  # noqa: E402
from model.pairs_io import pairs_from_texts, write_pair_version  # noqa: E402
from tests.filtering.conftest import tiny_model  # noqa: E402
from tests.model.conftest import make_texts  # noqa: E402


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("filter")
    model_dir = tiny_model(root / "model")
    pairs = root / "pairs"
    write_pair_version(pairs / "alpha" / "v1", pairs_from_texts("alpha", make_texts(60, seed=1)), num_shards=2)
    write_pair_version(pairs / "beta" / "v1", pairs_from_texts("beta", make_texts(30, seed=2)), num_shards=1)
    return root, model_dir, pairs


def run(setup, version, *extra):
    root, model_dir, pairs = setup
    args = filter_pairs.build_parser().parse_args(["--model", str(model_dir), "--pairs", str(pairs), "--output",
                                        str(root / "out"), "--version", version, "--pool_size", "50",
                                        "--device", "cpu", *extra])
    return filter_pairs.run(args)


def kept_ids(version_dir):
    ids = []
    for name in sorted(os.listdir(version_dir)):
        if name.startswith("pairs-"):
            ids += pq.read_table(os.path.join(version_dir, name)).column("pair_id").to_pylist()
    return sorted(ids)


def test_filter_writes_a_complete_accounted_version(setup):
    result = run(setup, "a")
    manifest = result["manifest"]
    counts = manifest["counts"]
    assert counts["records_read"] == 90
    assert counts["records_read"] == counts["records_used"] + counts["records_dropped"].get("inconsistent", 0)
    assert manifest["pairs_in"] == {"alpha": 60, "beta": 30}
    assert set(manifest["keep_rate"]) == {"alpha", "beta"}
    assert len(kept_ids(result["version_dir"])) == counts["pairs"]
    assert sorted({s["source"] for s in manifest["shards"]}) == ["alpha", "beta"]


def test_kept_pairs_are_exactly_those_ranked_in_top_k(setup):
    result = run(setup, "a2")
    root, model_dir, pairs = setup
    encoder = load_encoder(str(model_dir), "cpu")
    vdir = result["version_dir"]
    pool_texts = pq.read_table(os.path.join(vdir, "pool.parquet")).column("passage").to_pylist()
    pool = ConsistencyPool.build(embed_texts(encoder, pool_texts, "passage"), text_hashes(pool_texts), backend="numpy")
    expected = []
    for shard in filter_pairs.input_shards([str(pairs)]):
        table = pq.read_table(shard.path)
        q, p = table.column("query").to_pylist(), table.column("passage").to_pylist()
        keep = consistency_filter(embed_texts(encoder, q, "query"), embed_texts(encoder, p, "passage"),
                                  text_hashes(p), pool, k=2).keep
        expected += [pid for pid, k in zip(table.column("pair_id").to_pylist(), keep) if k]
    assert kept_ids(vdir) == sorted(expected)


def test_split_runs_and_resume_give_the_same_version(setup):
    whole = run(setup, "whole")
    first = run(setup, "split", "--shard", "0/2")
    assert not first["complete"]  # shard 1 of 3 input shards is still missing
    second = run(setup, "split", "--shard", "1/2")
    assert second["complete"]
    assert kept_ids(whole["version_dir"]) == kept_ids(second["version_dir"])
    again = run(setup, "split", "--shard", "1/2", "--overwrite")
    assert again["complete"] and again["timings"]["pairs"] == 0  # same options: the other worker's shards stay

    version_dir = setup[0] / "out" / filter_pairs.DATASET / "split"
    for name in ("manifest.json", "pairs-00000-of-00003.parquet", "ranks-00002-of-00003.parquet"):
        os.unlink(version_dir / name)  # as if stopped before these were written
    resumed = run(setup, "split")  # resumes: only the two shards not done are filtered
    assert resumed["complete"] and resumed["timings"]["pairs"] == 60
    assert kept_ids(resumed["version_dir"]) == kept_ids(whole["version_dir"])


def test_complete_version_is_refused_without_overwrite(setup):
    run(setup, "c")
    with pytest.raises(SystemExit, match="complete version"):
        run(setup, "c")


def test_filtered_version_trains_with_one_source_per_batch(setup):
    from model.data import discover_sources

    result = run(setup, "d")
    sources = discover_sources([result["version_dir"]])
    assert set(sources) <= {"alpha", "beta"} and sum(s.rows for s in sources.values()) == result["manifest"]["counts"]["pairs"]
