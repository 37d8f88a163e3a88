"""The corpus version's dataset card (pipelines/dataset_card.py): a Hugging Face card with every section.

One real corpus version (pipelines.ccpairs over two generated source versions whose manifests list raw
input files in folders of their own) is checked: YAML that parses with license, source_datasets,
task_categories, size_categories and configs; fields from schemas/pairs.py; an example that is a
real pair; no absolute path; the synthetic banner only once a raw input folder carries the marker;
and `datasets.load_dataset` reads it by its configs, offline.
"""

import json
import os
import pathlib
import re

import pytest
import yaml

from pipelines import ccpairs
from schemas import dataset_card
from schemas import versions
from schemas.pairs import COLUMN_DESCRIPTIONS, PAIR_COLUMNS
from sources.demo_inputs.beir import write_demo_beir
from sources.demo_inputs.corpus import planted_corpus


def split_card(text: str):
    """(YAML header as a dict, body) of a card."""
    assert text.startswith("---\n")
    _, header, body = text.split("---\n", 2)
    return yaml.safe_load(header), body


def write_source_version(folder: pathlib.Path, raw_folder: pathlib.Path, source: str, pairs) -> str:
    """A complete source version whose manifest lists raw input files, as a source job's does."""
    version_dir = versions.write_pair_version(folder / source / "v1", pairs, num_shards=2, dataset=source)
    raw_folder.mkdir(parents=True, exist_ok=True)
    raw = raw_folder / f"{source}-dump.jsonl"
    raw.write_text("{}\n")
    manifest = versions.read_manifest(version_dir)
    manifest["inputs"] = [{"path": str(raw), "bytes": raw.stat().st_size}]
    versions.write_manifest(version_dir, manifest)
    return version_dir


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("card")
    evals = write_demo_beir(str(tmp / "beir"), n_queries=10, docs_per_topic=5)
    pairs, _ = planted_corpus(n_plain=40, n_exact=4, n_repeated=4)
    inputs = [write_source_version(tmp / "sources", tmp / "raw" / source, source, source_pairs)
              for source, source_pairs in pairs.items()]
    version_dir = ccpairs.run([a for d in inputs for a in ("--input", str(d))] + [
        "--output", str(tmp / "out"), "--version", "c1", "--pool_size", "20", "--decontaminate", evals])
    text = (pathlib.Path(version_dir) / dataset_card.CARD_NAME).read_text()
    return {"tmp": tmp, "dir": version_dir, "text": text, "manifest": versions.read_manifest(version_dir)}


def test_card_yaml_parses_and_carries_the_hub_fields(corpus):
    header, _ = split_card(corpus["text"])
    sources = sorted({s["source"] for s in corpus["manifest"]["shards"]})
    assert sources == ["reddit", "stackexchange"]
    assert header["license"] == sorted({"other", "cc-by-sa-4.0", "cc-by-sa-3.0"})
    assert "reddit" in header["license_details"] and header["license_name"]
    assert header["source_datasets"] == [dataset_card.SOURCE_TERMS[s]["source_dataset"] for s in sources]
    assert {"sentence-similarity", "text-retrieval"} <= set(header["task_categories"])
    assert header["size_categories"] == ["n<1K"]
    assert header["language"] == ["en"]
    configs = {c["config_name"]: c for c in header["configs"]}
    assert set(configs) == {"default", *sources}
    assert configs["default"]["data_files"] == [{"split": "train", "path": "pairs-*.parquet"}]


def test_card_has_every_section(corpus):
    _, body = split_card(corpus["text"])
    headings = re.findall(r"^#{2,3} (.+)$", body, re.M)
    assert list(dataset_card.SECTIONS) == [h for h in headings if h in dataset_card.SECTIONS]
    assert "@article{wang2022text" in body and "arXiv:2212.03533" in body  # E5's BibTeX
    assert "@misc{ccpairs_ccpairs_c1" in body  # this version's
    assert "Reddit usernames" in body  # said where they are (not in the pairs)
    for source in ("reddit", "stackexchange"):
        assert dataset_card.SOURCE_TERMS[source]["terms"] in body


def test_fields_are_described_from_the_schema(corpus):
    _, body = split_card(corpus["text"])
    for column in PAIR_COLUMNS:
        assert f"| `{column}` |" in body and COLUMN_DESCRIPTIONS[column] in body
    assert set(COLUMN_DESCRIPTIONS) == set(PAIR_COLUMNS)


def test_example_instance_is_a_pair_of_the_version(corpus):
    _, body = split_card(corpus["text"])
    example = json.loads(re.search(r"### Example instance\n\n.*?```json\n(.*?)\n```", body, re.S).group(1))
    assert list(example) == list(PAIR_COLUMNS)
    kept = versions.read_pairs(corpus["dir"]).to_pylist()
    (pair,) = [p for p in kept if p["pair_id"] == example["pair_id"]]
    assert example["query"] == pair["query"][:dataset_card.EXAMPLE_CHARS] + (
        "…" if len(pair["query"]) > dataset_card.EXAMPLE_CHARS else "")


def test_card_names_no_absolute_path(corpus):
    text, tmp = corpus["text"], str(corpus["tmp"])
    assert tmp in json.dumps(corpus["manifest"])  # the manifest holds absolute paths: the card must not
    assert tmp not in text
    assert "/tmp/" not in text and os.path.expanduser("~") + "/" not in text
    assert not re.search(r"(?<![\w.:/])/(?:home|tmp|var|Users|root|mnt|srv)/", text)
    assert "gs://" not in text and "s3://" not in text
    _, body = split_card(text)
    assert "`beir`" in body  # the evaluation set by its name


def test_lineage_and_settings_are_in_the_card(corpus):
    _, body = split_card(corpus["text"])
    lineage = body.split("### Lineage", 1)[1].split("### Settings", 1)[0]
    assert "| reddit/v1 |" in lineage and "| stackexchange/v1 |" in lineage
    settings = body.split("### Settings", 1)[1].split("## Licenses", 1)[0]
    assert "near_dup_threshold: 0.8" in settings and "pool_size: 20" in settings


def test_synthetic_banner_only_for_generated_inputs(corpus):
    manifest, stats = corpus["manifest"], json.loads((pathlib.Path(corpus["dir"]) / "stats.json").read_text())
    assert "Synthetic demo data" not in corpus["text"]  # no raw input folder carries the marker
    assert "synthetic" not in split_card(corpus["text"])[0]["tags"]
    marker = corpus["tmp"] / "raw" / "reddit" / dataset_card.SYNTHETIC_MARKER
    marker.write_text("made by a test\n")
    try:
        assert dataset_card.synthetic_sources(manifest) == {"reddit"}
        text = dataset_card.card(manifest, stats, corpus["dir"])
    finally:
        marker.unlink()
    header, body = split_card(text)
    assert body.split("\n\n")[1].startswith("> **Synthetic demo data.** The inputs of reddit were generated")
    assert "synthetic" in header["tags"] and header["language_creators"] == ["machine-generated"]
    assert dataset_card.synthetic_sources(manifest) == set()
    assert "Synthetic demo data" in dataset_card.card(manifest, stats, corpus["dir"], synthetic=True)


def test_card_is_the_same_when_rendered_again(corpus):
    stats = json.loads((pathlib.Path(corpus["dir"]) / "stats.json").read_text())
    assert dataset_card.card(corpus["manifest"], stats, corpus["dir"]) == corpus["text"]


def test_datasets_loads_the_corpus_by_its_configs(corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)  # also when another test imported it first
    kept = versions.read_pairs(corpus["dir"]).to_pylist()
    everything = datasets.load_dataset(corpus["dir"], split="train", cache_dir=str(tmp_path))
    assert sorted(everything["pair_id"]) == sorted(p["pair_id"] for p in kept)
    reddit = datasets.load_dataset(corpus["dir"], "reddit", split="train", cache_dir=str(tmp_path))
    assert sorted(reddit["pair_id"]) == sorted(p["pair_id"] for p in kept if p["source"] == "reddit")
    assert set(reddit["source"]) == {"reddit"}


def test_the_card_module_stays_free_of_beam_and_torch():
    """filtering/filter_pairs.py imports it on GPU workers; ccpairs on Beam workers."""
    from tests.test_layout import _reach

    assert not {"apache_beam", "torch", "transformers", "faiss"} & set(_reach("schemas.dataset_card"))
