"""Decontamination against real BEIR data: exact query matches and 13-gram overlaps, with reasons."""

import json

import pytest

from filtering.decontamination import EvalDataError, load_eval_set
from schemas import reasons

EVAL = "eval/beir-dbpedia-entity-subset"


def _beir(folder, queries, docs, qrels=None):
    (folder / "qrels").mkdir(parents=True)
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": f"q{i}", "text": q}) + "\n"
                                                  for i, q in enumerate(queries)))
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": f"d{i}", "title": "", "text": d}) + "\n"
                                                 for i, d in enumerate(docs)))
    if qrels is not None:
        (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
            f"q0\t{d}\t1\n" for d in qrels))
    return str(folder)


def test_real_eval_queries_and_judged_passages_are_found(shared_data):
    folder = shared_data / EVAL
    eval_set = load_eval_set([str(folder)])
    queries = [json.loads(line)["text"] for line in (folder / "queries.jsonl").read_text().splitlines()]
    docs = {d["_id"]: f"{d.get('title', '')} {d.get('text', '')}".strip()
            for d in map(json.loads, (folder / "corpus.jsonl").read_text().splitlines())}
    judged = {line.split("\t")[1] for line in (folder / "qrels" / "test.tsv").read_text().splitlines()[1:]}
    assert eval_set.describe()[0]["queries"] == len(queries) == 50
    assert eval_set.describe()[0]["judged_passages"] == len(judged)
    for query in queries:
        assert eval_set.reason(f"  {query.upper()}!", "an unrelated passage") == reasons.DROP_EVAL_QUERY
        assert eval_set.reason("an unrelated query", query.lower()) == reasons.DROP_EVAL_QUERY
    quoted = [d for i, d in docs.items() if i in judged and len(d.split()) > 30][:50]
    for doc in quoted:
        words = doc.split()
        assert eval_set.reason("q", "My own words first. " + " ".join(words[5:25]) + " and mine after") \
            == reasons.DROP_EVAL_NGRAM
    unjudged = [d for i, d in docs.items() if i not in judged and len(d.split()) > 30][:20]
    assert unjudged and all(eval_set.reason("q", d) is None for d in unjudged)  # only judged passages count
    assert eval_set.reason("who was hugh downs married to", "a passage about something else entirely") is None


def test_twelve_shared_words_are_not_an_overlap_but_thirteen_are(tmp_path):
    doc = " ".join(f"w{i}" for i in range(40))
    eval_set = load_eval_set([_beir(tmp_path / "b", ["find w1"], [doc], qrels=["d0"])])
    assert eval_set.reason("q", " ".join(f"w{i}" for i in range(10, 22)) + " x y") is None
    assert eval_set.reason("q", " ".join(f"w{i}" for i in range(10, 23))) == reasons.DROP_EVAL_NGRAM
    assert eval_set.reason("Find W1.", "p") == reasons.DROP_EVAL_QUERY


def test_without_qrels_every_corpus_document_counts_and_train_qrels_do_not(tmp_path):
    doc = " ".join(f"w{i}" for i in range(20))
    no_qrels = load_eval_set([_beir(tmp_path / "a", ["q"], [doc])])
    assert no_qrels.reason("q1", doc) == reasons.DROP_EVAL_NGRAM
    train_only = _beir(tmp_path / "b", ["q"], [doc])
    (tmp_path / "b" / "qrels" / "train.tsv").write_text("q0\td0\t1\n")
    (tmp_path / "b" / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n")
    assert load_eval_set([train_only]).reason("q1", doc) is None


def test_a_folder_that_is_not_beir_is_refused(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(EvalDataError, match="holds no queries.jsonl, corpus.jsonl"):
        load_eval_set([str(tmp_path / "x")])
    with pytest.raises(EvalDataError, match="no such folder"):
        load_eval_set([str(tmp_path / "missing")])
