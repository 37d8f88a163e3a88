"""The corpus job on two sources with planted duplicates and evaluation leaks (and the truth about each).

One run (module fixture) is checked from every side: what was removed and why, the accounting and
lineage, the shards, the pool, the dataset card, the report; a rerun must write the same bytes.
"""

import glob
import json
import os
import pathlib
import shutil

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import yaml

from pipelines import ccpairs
from schemas import reasons, versions
from sources.demo_inputs.beir import write_demo_beir
from sources.demo_inputs.corpus import planted_corpus
from tests.conftest import SHARED_DATA

NEAR_RATES = (0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.15, 0.2)
POOL_SIZE = 60


def eval_folder(tmp: pathlib.Path) -> str:
    """The real DBPedia-entity subset where ../shared/data exists, else a generated BEIR set."""
    real = SHARED_DATA / "eval" / "beir-dbpedia-entity-subset"
    return str(real) if real.is_dir() else write_demo_beir(str(tmp / "beir"), n_queries=20, docs_per_topic=10)


def eval_plants(folder: str, n: int):
    queries = [json.loads(line)["text"] for line in open(os.path.join(folder, "queries.jsonl"))][:n]
    judged = {line.split("\t")[1] for line in list(open(os.path.join(folder, "qrels", "test.tsv")))[1:]}
    docs = [json.loads(line) for line in open(os.path.join(folder, "corpus.jsonl"))]
    texts = [f"{d.get('title', '')} {d.get('text', '')}".strip() for d in docs if d["_id"] in judged]
    return queries, [t for t in texts if len(t.split()) >= 25][:n]


def write_sources(root: pathlib.Path, pairs_by_source) -> list:
    dirs = []
    for source, pairs in pairs_by_source.items():
        dirs.append(versions.write_pair_version(root / source / "v1", pairs, num_shards=2, dataset=source))
    return dirs


def run_job(inputs, output, version, *extra):
    argv = [a for d in inputs for a in ("--input", str(d))] + [
        "--output", str(output), "--version", version, "--pool_size", str(POOL_SIZE)] + list(extra)
    return ccpairs.run(argv)


def version_files(version_dir):
    return {name: pathlib.Path(version_dir, name).read_bytes() for name in sorted(os.listdir(version_dir))}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ccpairs")
    evals = eval_folder(tmp)
    queries, judged = eval_plants(evals, 8)
    pairs, truth = planted_corpus(n_plain=120, n_exact=15, n_repeated=15, near_rates=NEAR_RATES, near_per_rate=12,
                                  eval_queries=queries, judged_passages=judged)
    inputs = write_sources(tmp / "sources", pairs)
    version_dir = run_job(inputs, tmp / "out", "c1", "--decontaminate", evals)
    return {
        "dir": version_dir,
        "inputs": inputs,
        "pairs": pairs,
        "truth": truth,
        "evals": evals,
        "manifest": versions.read_manifest(version_dir),
        "kept": set(versions.read_pairs(version_dir).column("pair_id").to_pylist()),
        "files": version_files(version_dir),
    }


def test_exact_duplicates_across_sources_keep_the_better_pair(corpus):
    truth, kept = corpus["truth"], corpus["kept"]
    for better, copy in truth.exact + truth.repeated:
        assert better in kept and copy not in kept
    dropped = corpus["manifest"]["source_counts"]["stackexchange"]["dropped"]
    assert dropped[reasons.DROP_DUPLICATE_PAIR_TEXT] == len(truth.exact)
    assert dropped[reasons.DROP_REPEATED_PASSAGE] == len(truth.repeated)


def test_near_copies_above_085_are_removed_and_none_below_05(corpus):
    truth, kept = corpus["truth"], corpus["kept"]
    similar = [(o, c) for o, c, _, j in truth.near if j >= 0.85]
    dissimilar = [(o, c) for o, c, _, j in truth.near if j < 0.5]
    assert len(similar) >= 25 and len(dissimilar) >= 20
    assert all(original in kept for original, _, _, _ in truth.near)  # the better-ranked copy survives
    assert sum(copy not in kept for _, copy in similar) / len(similar) >= 0.95
    assert all(copy in kept for _, copy in dissimilar)
    removed = {c for _, c, _, _ in truth.near if c not in kept}
    counts = corpus["manifest"]["counts"]["records_dropped"]
    assert counts[reasons.DROP_NEAR_DUPLICATE] == len(removed)  # nothing but planted copies was removed as near


def test_planted_evaluation_leaks_are_removed_with_their_reason(corpus):
    truth, kept, counts = corpus["truth"], corpus["kept"], corpus["manifest"]["counts"]["records_dropped"]
    assert truth.eval_query and truth.eval_ngram
    assert not (set(truth.eval_query) | set(truth.eval_ngram)) & kept
    assert counts[reasons.DROP_EVAL_QUERY] == len(truth.eval_query)
    assert counts[reasons.DROP_EVAL_NGRAM] == len(truth.eval_ngram)
    summary = corpus["manifest"]["decontamination"]["eval_sets"][0]
    assert summary["path"] == corpus["evals"] and summary["queries"] > 0 and len(summary["sha256"]) == 64


def test_every_input_pair_is_kept_or_dropped_once_and_lineage_adds_up(corpus):
    manifest, pairs = corpus["manifest"], corpus["pairs"]
    counts = manifest["counts"]
    assert counts["records_read"] == sum(len(p) for p in pairs.values())
    assert counts["records_used"] + sum(counts["records_dropped"].values()) == counts["records_read"]
    assert counts["records_used"] == counts["pairs"] == len(corpus["kept"])
    for source, per in manifest["source_counts"].items():
        assert per["pairs_in"] == len(pairs[source])
        assert per["pairs_kept"] + sum(per["dropped"].values()) == per["pairs_in"]
    assert [i["path"] for i in manifest["inputs"]] == [str(d) for d in corpus["inputs"]]
    for entry, version_dir in zip(manifest["inputs"], corpus["inputs"]):
        source_manifest = versions.read_manifest(version_dir)
        assert entry["counts"] == source_manifest["counts"]
        assert entry["code_version"] == source_manifest["code_version"] and entry["dataset"] == source_manifest["dataset"]
        assert entry["pairs_by_source"] == {entry["dataset"]: source_manifest["counts"]["pairs"]}
    assert manifest["near_duplicates"]["bands"] * manifest["near_duplicates"]["rows"] <= 256


def test_each_shard_holds_one_source_sorted_by_pair_id(corpus):
    for shard in versions.pair_shards(corpus["dir"]):
        table = pq.read_table(shard.path)
        assert set(table.column("source").to_pylist()) == {shard.source}
        ids = table.column("pair_id").to_pylist()
        assert ids == sorted(ids)


def test_pool_is_the_filters_pool_of_the_kept_passages(corpus):
    from filtering.pool import sample_pool

    table = pq.read_table(os.path.join(corpus["dir"], "pool.parquet"))
    expected = sample_pool(versions.pair_shard_paths(corpus["dir"]), POOL_SIZE).to_table()
    assert table.num_rows == POOL_SIZE and table.equals(expected)
    assert corpus["manifest"]["pool"] == {"path": "pool.parquet", "rows": POOL_SIZE}


def test_pyarrow_dataset_and_duckdb_open_the_version_as_it_is(corpus):
    duckdb = pytest.importorskip("duckdb")
    version_dir, n = corpus["dir"], corpus["manifest"]["counts"]["pairs"]
    shards = sorted(glob.glob(os.path.join(version_dir, "pairs-*.parquet")))
    assert ds.dataset(shards, format="parquet").count_rows() == n
    rows = duckdb.sql(f"SELECT source, count(*) FROM read_parquet('{version_dir}/pairs-*.parquet') "
                      "GROUP BY source ORDER BY source").fetchall()
    assert dict(rows) == {s: c["pairs_kept"] for s, c in corpus["manifest"]["source_counts"].items()}


def test_dataset_card_configs_name_exactly_the_shards(corpus):
    text = (pathlib.Path(corpus["dir"]) / "README.md").read_text()
    assert text.startswith("---\n")
    header = yaml.safe_load(text.split("---\n")[1])
    configs = {c["config_name"]: c["data_files"][0] for c in header["configs"]}
    shard_names = sorted(s["path"] for s in corpus["manifest"]["shards"])
    default = configs.pop("default")
    assert default["split"] == "train"
    assert sorted(os.path.basename(p) for p in glob.glob(os.path.join(corpus["dir"], default["path"]))) == shard_names
    assert {name: sorted(c["path"]) for name, c in configs.items()} == {
        source: sorted(s["path"] for s in corpus["manifest"]["shards"] if s["source"] == source)
        for source in ("reddit", "stackexchange")}


def test_report_names_only_images_that_exist(corpus):
    import re

    page = (pathlib.Path(corpus["dir"]) / "report.html").read_text()
    images = re.findall(r'<img src="([^"]+)"', page)
    assert {"report-pairs.png", "report-drops.png", "report-lengths.png", "report-languages.png",
            "report-dedup.png"} <= set(images)
    for name in images:
        assert corpus["files"][name].startswith(b"\x89PNG\r\n\x1a\n")
    assert "http" not in page.replace("https://", "")  # nothing fetched from the web
    stats = json.loads(corpus["files"]["stats.json"])
    assert stats["pairs"] == {s: c["pairs_kept"] for s, c in corpus["manifest"]["source_counts"].items()}


def test_rerun_writes_the_same_bytes(corpus):
    out = pathlib.Path(corpus["dir"]).parent.parent
    again = run_job(corpus["inputs"], out, "c1", "--decontaminate", corpus["evals"], "--overwrite")
    files = version_files(again)
    first = dict(corpus["files"])
    manifests = [json.loads(f.pop("manifest.json")) for f in (files, first)]
    assert files == first
    for manifest in manifests:
        manifest.pop("created_at")
    assert manifests[0] == manifests[1]


def test_repeated_passages_can_be_kept_and_still_are_no_near_duplicates(tmp_path):
    pairs, truth = planted_corpus(n_plain=20, n_exact=5, n_repeated=5, near_rates=(0.005,), near_per_rate=5, seed=2)
    inputs = write_sources(tmp_path / "sources", pairs)
    version_dir = run_job(inputs, tmp_path / "out", "keep", "--keep_repeated_passages", "--no_report")
    kept = set(versions.read_pairs(version_dir).column("pair_id").to_pylist())
    assert all(a in kept and b in kept for a, b in truth.repeated)
    assert all(b not in kept for _, b in truth.exact)
    assert all(o in kept for o, _, _, _ in truth.near) and sum(c not in kept for _, c, _, _ in truth.near) >= 4
    assert not os.path.exists(os.path.join(version_dir, "report.html"))


def test_an_incomplete_input_version_is_refused(tmp_path):
    pairs, _ = planted_corpus(n_plain=3)
    inputs = write_sources(tmp_path / "sources", pairs)
    os.remove(os.path.join(inputs[0], "manifest.json"))
    with pytest.raises(ccpairs.UsageError, match="incomplete"):
        run_job(inputs, tmp_path / "out", "x")
    assert not (tmp_path / "out").exists()


def test_two_versions_of_one_source_are_refused(tmp_path):
    pairs, _ = planted_corpus(n_plain=3)
    first = versions.write_pair_version(tmp_path / "reddit" / "v1", pairs["reddit"], dataset="reddit")
    second = versions.write_pair_version(tmp_path / "reddit" / "v2", pairs["reddit"], dataset="reddit")
    with pytest.raises(ccpairs.UsageError, match=f"source 'reddit' is in {first} and {second}"):
        ccpairs.lineage_of([first, second])
    assert ccpairs.resolve_input(str(tmp_path / "reddit")) == second  # a dataset folder: its latest version


def test_case_11_trec_qrels_drop_the_same_leaks_as_beir_qrels(corpus, tmp_path):
    """Issue 22, case 11: the same evaluation set with TREC qrels (`qid 0 docid rel`, spaces) once judged
    no passage (eval_ngram drops fell from 4 to 0) and said nothing."""
    trec = tmp_path / "trec"
    shutil.copytree(corpus["evals"], trec)
    rows = (trec / "qrels" / "test.tsv").read_text().splitlines()[1:]
    (trec / "qrels" / "test.tsv").write_text("".join(f"{q} 0 {d} {g}\n" for q, d, g in (r.split("\t") for r in rows)))
    version_dir = run_job(corpus["inputs"], tmp_path / "out", "trec", "--decontaminate", str(trec), "--no_report")
    dropped = versions.read_manifest(version_dir)["counts"]["records_dropped"]
    assert dropped[reasons.DROP_EVAL_NGRAM] == corpus["manifest"]["counts"]["records_dropped"][reasons.DROP_EVAL_NGRAM] > 0
    assert dropped[reasons.DROP_EVAL_QUERY] == len(corpus["truth"].eval_query)


def test_case_11_bad_evaluation_data_is_one_line_before_the_claim(tmp_path, capsys):
    """Issue 22, case 11: a queries.jsonl line that is no object once gave a traceback."""
    pairs, _ = planted_corpus(n_plain=3)
    inputs = write_sources(tmp_path / "sources", pairs)
    evals = pathlib.Path(write_demo_beir(str(tmp_path / "beir"), n_queries=3, docs_per_topic=5))
    with open(evals / "queries.jsonl", "a") as handle:
        handle.write('["not", "an", "object"]\n')
    argv = [a for d in inputs for a in ("--input", d)] + ["--output", str(tmp_path / "out"), "--version", "c1",
                                                          "--decontaminate", str(evals)]
    with pytest.raises(SystemExit) as exit_info:
        ccpairs.main(argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(lines) == 1 and "queries.jsonl:4: a JSON list, not an object" in lines[0]
    assert not (tmp_path / "out").exists()  # refused before the claim


@pytest.mark.parametrize("schema_version, refused", [("1.0.0", True), ("3.0.0", True), (None, True), ("2.1.0", False)])
def test_case_12_an_input_of_another_major_schema_version_is_refused(tmp_path, schema_version, refused):
    """Issue 22, case 12: a source version written under another major schema_version was merged silently."""
    pairs, _ = planted_corpus(n_plain=3)
    inputs = write_sources(tmp_path / "sources", pairs)
    manifest_path = pathlib.Path(inputs[0], "manifest.json")
    manifest = json.loads(manifest_path.read_text())
    manifest["schema_version"] = schema_version
    manifest_path.write_text(json.dumps(manifest))
    if refused:
        with pytest.raises(ccpairs.UsageError, match=f"--input {inputs[0]} has schema_version {schema_version!r}"):
            ccpairs.lineage_of(inputs)
    else:
        assert [entry["schema_version"] for entry in ccpairs.lineage_of(inputs)[0]] == ["2.1.0", "2.0.0"]


def test_a_source_that_loses_every_pair_writes_empty_shards_of_its_input_layout(tmp_path):
    """The shard layout is the input manifests' (known at launch): a source whose every pair is an exact copy
    of a better-scored pair of another source keeps its shards, empty, and the counts still add up."""
    pairs, _ = planted_corpus(n_plain=30, seed=3)
    copies = [dict(p, source="stackexchange", pair_id=p["pair_id"] + "-copy", score=-1) for p in pairs["reddit"]]
    inputs = write_sources(tmp_path / "sources", {"reddit": pairs["reddit"], "stackexchange": copies})
    version_dir = run_job(inputs, tmp_path / "out", "empty", "--no_report", "--num_shards", "4")
    manifest = versions.read_manifest(version_dir)
    by_source = {}
    for shard in manifest["shards"]:
        by_source.setdefault(shard["source"], []).append(shard["rows"])
    assert sorted(by_source) == ["reddit", "stackexchange"]
    assert sum(by_source["reddit"]) == 30 and by_source["stackexchange"] == [0, 0]
    counts = manifest["source_counts"]["stackexchange"]
    assert counts["pairs_kept"] == 0 and counts["dropped"] == {reasons.DROP_DUPLICATE_PAIR_TEXT: 30}
