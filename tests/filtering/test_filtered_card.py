"""The consistency-filtered version's dataset card: written with its manifest, loadable by its configs.

A tiny random BERT filters two small pair versions (as tests/filtering/test_filter_pairs.py does);
one of them lists a raw input in a folder that carries the synthetic marker, so the card's lineage
walk has something to find.
"""

import json
import os
import pathlib
import re

import pyarrow.parquet as pq
import pytest
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from filtering import filter_pairs  # noqa: E402
from model.pairs_io import pairs_from_texts, write_pair_version  # noqa: E402
from schemas import dataset_card  # noqa: E402
from schemas import versions  # noqa: E402
from schemas.pairs import PAIR_COLUMNS  # noqa: E402
from tests.filtering.conftest import tiny_model  # noqa: E402
from tests.model.conftest import make_texts  # noqa: E402


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("filtered_card")
    model_dir = tiny_model(root / "model")
    pairs = root / "pairs"
    write_pair_version(pairs / "alpha" / "v1", pairs_from_texts("alpha", make_texts(40, seed=1)), num_shards=2)
    write_pair_version(pairs / "beta" / "v1", pairs_from_texts("beta", make_texts(20, seed=2)), num_shards=1)
    raw = root / "raw" / "alpha"
    raw.mkdir(parents=True)
    (raw / "alpha-dump.jsonl").write_text("{}\n")
    (raw / dataset_card.SYNTHETIC_MARKER).write_text("made by a test\n")
    manifest = versions.read_manifest(pairs / "alpha" / "v1")
    manifest["inputs"] = [{"path": str(raw / "alpha-dump.jsonl"), "bytes": 3}]
    versions.write_manifest(pairs / "alpha" / "v1", manifest)
    return root, model_dir, pairs


def run(setup, version, *extra):
    root, model_dir, pairs = setup
    args = filter_pairs.build_parser().parse_args([
        "--model", str(model_dir), "--pairs", str(pairs), "--output", str(root / "out"), "--version", version,
        "--pool_size", "30", "--device", "cpu", *extra])
    return filter_pairs.run(args)


@pytest.fixture(scope="module")
def filtered(setup):
    result = run(setup, "f1")
    text = (pathlib.Path(result["version_dir"]) / dataset_card.CARD_NAME).read_text()
    _, header, body = text.split("---\n", 2)
    return {**result, "text": text, "header": yaml.safe_load(header), "body": body, "root": setup[0]}


def kept_pairs(version_dir):
    return versions.read_pairs(version_dir).to_pylist()


def test_filtered_card_configs_list_only_the_pair_shards(filtered):
    header, manifest = filtered["header"], filtered["manifest"]
    configs = {c["config_name"]: c["data_files"] for c in header["configs"]}
    assert configs.pop("default") == [{"split": "train", "path": "pairs-*.parquet"}]
    assert configs == {source: [{"split": "train", "path": sorted(s["path"] for s in manifest["shards"]
                                                                   if s["source"] == source)}]
                       for source in ("alpha", "beta")}
    named = [p for c in configs.values() for p in c[0]["path"]]
    assert all(p.startswith("pairs-") for p in named)
    folder = os.listdir(filtered["version_dir"])
    assert any(n.startswith("ranks-") for n in folder) and "pool.parquet" in folder  # there, but not configs


def test_filtered_card_carries_every_item(filtered):
    header, body = filtered["header"], filtered["body"]
    assert header["license"] == ["other"] and "alpha" in header["license_details"]  # sources it does not know
    assert header["source_datasets"] == ["extended|other-alpha", "extended|other-beta"]
    assert {"sentence-similarity", "text-retrieval"} <= set(header["task_categories"])
    assert header["size_categories"] == ["n<1K"]
    headings = re.findall(r"^#{2,3} (.+)$", body, re.M)
    assert list(dataset_card.SECTIONS) == [h for h in headings if h in dataset_card.SECTIONS]
    assert "@article{wang2022text" in body and "(consistency-filtered)" in body
    for column in PAIR_COLUMNS:
        assert f"| `{column}` |" in body
    example = json.loads(re.search(r"### Example instance\n\n.*?```json\n(.*?)\n```", body, re.S).group(1))
    assert example["pair_id"] in {p["pair_id"] for p in kept_pairs(filtered["version_dir"])}


def test_filtered_card_lineage_is_its_inputs_and_the_filter_settings(filtered):
    body = filtered["body"]
    lineage = body.split("### Lineage", 1)[1].split("### Settings", 1)[0]
    assert "| alpha/v1 |" in lineage and "| beta/v1 |" in lineage
    settings = body.split("### Settings", 1)[1].split("## Licenses", 1)[0]
    options = filtered["manifest"]["options"]
    for key in ("k", "pool_size", "pool_actual", "backend", "precision", "model_dtype", "model_fingerprint"):
        assert f"{key}: {options[key]}" in settings
    assert "model: model" in settings  # the model by its folder name, not its path
    counts = body.split("## How it was made", 1)[1].split("### Lineage", 1)[0]
    for source, kept in filtered["manifest"]["pairs_kept"].items():
        assert f"| {source} | {filtered['manifest']['pairs_in'][source]:,} | {kept:,} |" in counts


def test_filtered_card_has_no_absolute_path(filtered):
    text, root = filtered["text"], str(filtered["root"])
    assert root in json.dumps(filtered["manifest"])  # the manifest holds absolute paths: the card must not
    assert root not in text and "/tmp/" not in text
    assert not re.search(r"(?<![\w.:/])/(?:home|tmp|var|Users|root|mnt|srv)/", text)


def test_filtered_card_banner_follows_the_lineage_to_generated_inputs(filtered):
    assert filtered["body"].split("\n\n")[1].startswith(
        "> **Synthetic demo data.** The inputs of alpha were generated")
    assert "synthetic" in filtered["header"]["tags"]


def test_only_the_worker_that_writes_the_manifest_writes_the_card(setup):
    first = run(setup, "split", "--shard", "0/2")
    assert not first["complete"]
    assert not (pathlib.Path(first["version_dir"]) / dataset_card.CARD_NAME).exists()
    second = run(setup, "split", "--shard", "1/2")
    assert second["complete"]
    assert (pathlib.Path(second["version_dir"]) / dataset_card.CARD_NAME).is_file()


def test_datasets_loads_the_filtered_version_by_its_card(filtered, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)  # also when another test imported it first
    version_dir = filtered["version_dir"]
    kept = kept_pairs(version_dir)
    assert 0 < len(kept) < 60
    everything = datasets.load_dataset(version_dir, split="train", cache_dir=str(tmp_path))
    assert everything.column_names == list(PAIR_COLUMNS)  # no ranks or pool columns mixed in
    assert sorted(everything["pair_id"]) == sorted(p["pair_id"] for p in kept)
    for source in ("alpha", "beta"):
        one = datasets.load_dataset(version_dir, source, split="train", cache_dir=str(tmp_path))
        assert sorted(one["pair_id"]) == sorted(p["pair_id"] for p in kept if p["source"] == source)
        by_id = {p["pair_id"]: p for p in kept}
        assert all(row["query"] == by_id[row["pair_id"]]["query"] for row in one)
    assert sum(pq.ParquetFile(os.path.join(version_dir, s["path"])).metadata.num_rows
               for s in filtered["manifest"]["shards"]) == len(kept)
