"""Decontamination against real BEIR data: exact query matches and 13-gram overlaps, with reasons."""

import json

import pytest

from filtering.decontamination import EvalDataError, check_eval_folder, load_eval_set
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


def _trec(rows):
    return "".join(f"{q} 0 {d} {g}\n" for q, d, g in rows)


@pytest.mark.parametrize("qrels_text", [
    _trec([("q0", "d0", 1), ("q0", "d1", 0)]),
    "q0\t0\td0\t1\nq0\tQ0\td1\t0\n",  # TREC columns, tab-separated
    "query-id\tcorpus-id\tscore\nq0\td0\t1\n\nq0\td1\t0\n",
], ids=["trec-spaces", "trec-tabs", "beir"])
def test_case_11_trec_and_beir_qrels_judge_the_same_passages(tmp_path, qrels_text):
    """Issue 22, case 11: TREC qrels (`qid 0 docid rel`, spaces) once judged no passage, silently."""
    docs = [" ".join(f"d{i}w{j}" for j in range(20)) for i in range(3)]
    folder = _beir(tmp_path / "b", ["find it"], docs, qrels=[])
    (tmp_path / "b" / "qrels" / "test.tsv").write_text(qrels_text)
    eval_set = load_eval_set([folder])
    assert eval_set.describe()[0]["judged_passages"] == 2
    assert eval_set.reason("q", docs[0]) == eval_set.reason("q", docs[1]) == reasons.DROP_EVAL_NGRAM
    assert eval_set.reason("q", docs[2]) is None


@pytest.mark.parametrize("qrels_text, where", [
    ("q0,d0,1\n", "test.tsv:1"),
    ("query-id corpus-id score\nq0 d0 1\n", "test.tsv:1"),  # BEIR columns, but spaces
    ("q0\td0\t1\n", "test.tsv:1"),  # BEIR rows without their header
    ("query-id\tcorpus-id\tscore\nq0\td0\n", "test.tsv:2"),
    ("query-id\tcorpus-id\tscore\nq0\td0\thigh\n", "test.tsv:2"),
    ("q0 0 d0 1\nq0\td1\t1\n", "test.tsv:2"),  # TREC, then a BEIR row
    ("", "test.tsv is empty"),
], ids=["csv", "beir-with-spaces", "beir-headless", "short-row", "word-score", "mixed", "empty"])
def test_case_11_qrels_in_neither_form_are_one_clear_error(tmp_path, qrels_text, where):
    """Issue 22, case 11: qrels that are neither BEIR nor TREC are refused with the file and line."""
    folder = _beir(tmp_path / "b", ["q"], ["a doc"], qrels=[])
    (tmp_path / "b" / "qrels" / "test.tsv").write_text(qrels_text)
    with pytest.raises(EvalDataError, match=where) as error:
        load_eval_set([folder])
    assert "\n" not in str(error.value)
    with pytest.raises(EvalDataError, match=where):
        check_eval_folder(folder)


@pytest.mark.parametrize("name, lines, expected", [
    ("queries.jsonl", [b'{"_id": "q0", "text": "q"}', b"[1, 2]"], "queries.jsonl:2: a JSON list, not an object"),
    ("queries.jsonl", [b'"just text"'], "queries.jsonl:1: a JSON str, not an object"),
    ("queries.jsonl", [b'{"_id": "q0", "text": 7}'], "queries.jsonl:1: 'text' is a JSON int, not a string"),
    ("queries.jsonl", [b'{"_id": "q0", "text": "caf\xe9"}'], "queries.jsonl: not UTF-8 text"),
    ("corpus.jsonl", [b'{"_id": "d0", "text": "a doc"}', b"null"], "corpus.jsonl:2: a JSON NoneType, not an object"),
    ("corpus.jsonl", [b'{"_id": "d0", "title": ["t"], "text": "a doc"}'], "corpus.jsonl:1: 'title' is a JSON list"),
], ids=["list", "string", "number-text", "latin-1", "null", "list-title"])
def test_case_11_a_line_that_is_no_object_is_one_clear_error(tmp_path, name, lines, expected):
    """Issue 22, case 11: a queries.jsonl (or corpus.jsonl) line that is no object once gave a traceback."""
    folder = _beir(tmp_path / "b", ["q"], ["a doc"])
    (tmp_path / "b" / name).write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(EvalDataError, match=expected):
        load_eval_set([folder])


def test_case_11_qrels_that_name_no_corpus_document_are_refused(tmp_path):
    """Issue 22, case 11: qrels whose ids match no corpus _id (another id scheme) would judge nothing."""
    folder = _beir(tmp_path / "b", ["q"], ["a doc"], qrels=["doc-404"])
    with pytest.raises(EvalDataError, match="qrels name 1 corpus ids and none is an _id in corpus.jsonl"):
        load_eval_set([folder])
