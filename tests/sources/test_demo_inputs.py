"""The generated demo dumps of all five sources (sources/demo_inputs): same bytes on every write,
each source's job gives a few hundred pairs of the expected subsources with only the drops the
dumps plant, and the demo evaluation set shares no text with them (decontamination drops <= 2%)."""

import collections
import glob
import json
import os
import pathlib

import pyarrow.parquet as pq
import pytest

import pipelines.commoncrawl
import pipelines.reddit
import pipelines.semanticscholar
import pipelines.stackexchange
import pipelines.wikipedia
from filtering.decontamination import NGRAM_WORDS, load_eval_set
from sources.demo_inputs import beir, commoncrawl, reddit, semanticscholar, stackexchange, wikipedia

WRITERS = {
    "wikipedia": wikipedia.write_demo_dumps,
    "commoncrawl": lambda d: commoncrawl.write_demo_dumps(d, full=True),
    "semanticscholar": semanticscholar.write_demo_dumps,
    "reddit": reddit.write_demo_dumps,
    "stackexchange": stackexchange.write_demo_dumps,
}
JOBS = {"wikipedia": pipelines.wikipedia, "commoncrawl": pipelines.commoncrawl,
        "semanticscholar": pipelines.semanticscholar, "reddit": pipelines.reddit,
        "stackexchange": pipelines.stackexchange}
# what each dump plants on purpose: any other drop or reject is a bug in the generator
INTENDED_DROPS = {
    "wikipedia": {"redirect", "disambiguation", "list_page", "not_article"},
    "commoncrawl": {"warc_warcinfo", "warc_request", "warc_metadata", "not_html", "http_status", "non_english"},
    "semanticscholar": {"cited_missing", "citing_missing", "self_citation", "duplicate_record", "duplicate_pair",
                        "no_title", "no_abstract", "non_english", "too_short"},
}
INTENDED_REJECTS = {"wikipedia": {}, "commoncrawl": {}, "semanticscholar": {"invalid_json": 1}}


def files_of(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(pathlib.Path(folder).rglob("*")) if p.is_file()}


@pytest.mark.parametrize("source", ["wikipedia", "commoncrawl", "semanticscholar"])
def test_two_writes_are_byte_identical(tmp_path, source):
    first, second = WRITERS[source](str(tmp_path / "a")), WRITERS[source](str(tmp_path / "b"))
    assert [os.path.relpath(p, tmp_path / "a") for p in first] == [os.path.relpath(p, tmp_path / "b") for p in second]
    assert files_of(tmp_path / "a") == files_of(tmp_path / "b")


def test_beir_writes_are_byte_identical(tmp_path):
    beir.write_demo_beir(str(tmp_path / "a"))
    beir.write_demo_beir(str(tmp_path / "b"))
    assert files_of(tmp_path / "a") == files_of(tmp_path / "b")


def test_dumps_are_named_as_their_publishers_name_them(tmp_path):
    wiki = wikipedia.write_demo_dumps(str(tmp_path / "w"))
    assert [os.path.basename(p) for p in wiki] == ["enwiki-20240501-pages-articles-multistream.xml.bz2",
                                                   "enwiki-20240501-pages-articles-multistream-index.txt.bz2"]
    crawl = commoncrawl.write_demo_dumps(str(tmp_path / "c"), full=True)
    assert [os.path.basename(p) for p in crawl] == ["CC-MAIN-20240522100000-20240522130000-00000.warc.gz",
                                                    "CC-MAIN-20240522100000-20240522130000-00001.warc.gz"]
    assert all("/crawl-data/CC-MAIN-2024-22/segments/" in p for p in crawl)
    s2 = semanticscholar.write_demo_dumps(str(tmp_path / "s"))
    assert [pathlib.Path(p).parent.name for p in s2] == ["papers", "abstracts", "citations"]


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """Every source's job on its demo dumps (local runner): {source: (pairs, manifest)}."""
    tmp = tmp_path_factory.mktemp("demo")
    results = {}
    for source, write in WRITERS.items():
        inputs = write(str(tmp / "in" / source))
        if source == "wikipedia":
            inputs = inputs[:1]  # the index is found beside the dump
        argv = [a for path in inputs for a in ("--input", path)]
        out = JOBS[source].run(argv + ["--output", str(tmp / "out"), "--version", "v1"])
        pairs = [row for path in sorted(glob.glob(os.path.join(out, "pairs-*.parquet")))
                 for row in pq.read_table(path).to_pylist()]
        manifest = json.loads(pathlib.Path(out, "manifest.json").read_text())
        results[source] = (pairs, manifest)
    return results


@pytest.mark.parametrize("source", ["wikipedia", "commoncrawl", "semanticscholar"])
def test_demo_dumps_give_pairs_with_only_the_planted_drops(extracted, source):
    pairs, manifest = extracted[source]
    counts = manifest["counts"]
    assert 150 <= counts["pairs"] == len(pairs) <= 700
    assert set(counts["records_dropped"]) <= INTENDED_DROPS[source]
    assert counts["records_rejected"] == INTENDED_REJECTS[source]
    texts = [p for p in pairs if p["subsource"] != "citation"]  # a citation's passage is a title (title-title)
    assert all(p["lang"] == "en" and len(p["passage"]) >= 100 and p["query"].strip() for p in texts)
    assert len({p["passage"] for p in texts}) == len(texts)  # no page, section or abstract repeats another


def test_expected_subsources(extracted):
    subsources = {source: collections.Counter(p["subsource"] for p in pairs)
                  for source, (pairs, _) in extracted.items()}
    assert set(subsources["semanticscholar"]) == {"title-abstract", "citation"}
    assert min(subsources["semanticscholar"].values()) >= 100
    assert set(subsources["wikipedia"]) == {"enwiki"}
    assert set(subsources["commoncrawl"]) == {"CC-MAIN-2024-22"}


def test_wikipedia_sections_are_clean(extracted):
    pairs, manifest = extracted["wikipedia"]
    details = manifest["detail_counts"]
    assert not details.get("sections/dropped/markup_left")
    assert set(manifest["counts"]["records_dropped"]) == INTENDED_DROPS["wikipedia"]
    queries = {p["query"] for p in pairs}
    assert any(q.endswith(" History") for q in queries) and any(" Common problems" in q for q in queries)
    for pair in pairs:
        assert not any(mark in pair["passage"] for mark in ("{{", "[[", "<ref", "{|", "'''")), pair


def test_commoncrawl_passages_are_the_article_text(extracted):
    pairs, manifest = extracted["commoncrawl"]
    assert set(manifest["counts"]["records_dropped"]) == INTENDED_DROPS["commoncrawl"]
    for pair in pairs:
        assert not any(word in pair["passage"] for word in ("cookies", "Subscribe", "Privacy", "helpful?")), pair
        assert not any(site in pair["query"] for site in ("|", " - Brewlab", "Docs")), pair


def test_decontamination_against_the_demo_eval_set_keeps_the_demo_pairs(extracted, tmp_path):
    """The corpus job's check (13-word n-grams, equal queries) finds (almost) nothing to drop."""
    eval_set = load_eval_set([beir.write_demo_beir(str(tmp_path / "beir"))], NGRAM_WORDS)
    total, dropped = 0, collections.Counter()
    for source, (pairs, _) in extracted.items():
        total += len(pairs)
        dropped.update(source for p in pairs if eval_set.reason(p["query"], p["passage"]))
    assert total >= 1500
    assert sum(dropped.values()) <= 0.02 * total, dropped


def test_demo_eval_set_is_a_retrieval_task(tmp_path):
    folder = pathlib.Path(beir.write_demo_beir(str(tmp_path / "beir")))
    corpus = [json.loads(line) for line in (folder / "corpus.jsonl").open()]
    queries = [json.loads(line) for line in (folder / "queries.jsonl").open()]
    qrels = [line.rstrip("\n").split("\t") for line in list((folder / "qrels" / "test.tsv").open())[1:]]
    ids = {d["_id"] for d in corpus}
    assert 1000 <= len(ids) == len(corpus) <= 2000 and 40 <= len(queries) <= 60
    judged = collections.defaultdict(set)
    for query_id, doc_id, score in qrels:
        assert doc_id in ids and score == "1"
        judged[query_id].add(doc_id)
    assert set(judged) == {q["_id"] for q in queries} and all(1 <= len(d) <= 10 for d in judged.values())
    assert len({q["text"] for q in queries}) == len(queries)
    # small sets, as the tests ask for them, still judge an existing document for every query
    small = pathlib.Path(beir.write_demo_beir(str(tmp_path / "small"), n_queries=3, docs_per_topic=5))
    assert len(list((small / "queries.jsonl").open())) == 3
    assert {line.split("\t")[0] for line in list((small / "qrels" / "test.tsv").open())[1:]} == {"q0", "q1", "q2"}
