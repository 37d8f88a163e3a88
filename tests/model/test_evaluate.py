import dataclasses
import json

import numpy as np
import pytest

from model.beir import load_beir, load_qrels
from model.encoder import EncoderSettings
from model import evaluate
from model.evaluate import main as evaluate_main
from model.saving import save_encoder
from model.search import exact_search, recall_at_1_paired
from sources.demo_inputs.beir import write_demo_beir


def write_beir(folder, header=True):
    folder.mkdir()
    docs = [("d1", "Apple", "A red fruit that grows on trees."),
            ("d2", "Guitar", "A string instrument with six strings."),
            ("d3", "", "Rockets fly to orbit around the planet.")]
    (folder / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in docs))
    queries = [("q1", "red fruit"), ("q2", "instrument"), ("q3", "no judgments")]
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in queries))
    (folder / "qrels").mkdir()
    lines = ["q1\td1\t2", "q1\td2\t0", "q2\td2\t1"]
    (folder / "qrels" / "test.tsv").write_text(("query-id\tcorpus-id\tscore\n" if header else "") + "\n".join(lines) + "\n")
    return folder


@pytest.mark.parametrize("header", [True, False])
def test_beir_loading(tmp_path, header):
    data = load_beir(write_beir(tmp_path / "beir", header))
    assert data.corpus["d1"] == "Apple A red fruit that grows on trees."
    assert data.corpus["d3"] == "Rockets fly to orbit around the planet."  # empty title: no leading space
    assert data.qrels == {"q1": {"d1": 2, "d2": 0}, "q2": {"d2": 1}}


def test_bad_qrels_line_is_an_error(tmp_path):
    path = tmp_path / "q.tsv"
    path.write_text("q1\td1\t1\nq2\td2\tabc\n")
    with pytest.raises(ValueError, match="not a number"):
        load_qrels(path)


def test_exact_search_ranks_by_inner_product():
    corpus = np.eye(4, dtype=np.float32)
    queries = np.array([[0.1, 0.9, 0.0, 0.2], [1.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    scores, idx = exact_search(queries, corpus, 2, chunk=1)
    assert idx[0].tolist() == [1, 3] and idx[1, 0] == 0
    assert scores[0].tolist() == pytest.approx([0.9, 0.2])
    assert recall_at_1_paired(corpus, corpus) == 1.0


def test_cli_prints_metrics_as_last_line(tiny_encoder, tmp_path, capsys):
    model = save_encoder(tiny_encoder, tmp_path / "model")
    evaluate_main(["--model", str(model), "--data", str(write_beir(tmp_path / "beir")), "--device", "cpu"])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    metrics = json.loads(last)
    assert metrics["queries"] == 2
    assert metrics["recall@100"] == 1.0  # 3 documents: everything is retrieved
    assert 0 < metrics["ndcg@10"] <= 1 and 0 < metrics["mrr@10"] <= 1
    assert metrics["settings"]["query_prefix"] == "query: "
    evaluate_main(["--model", str(model), "--data", str(tmp_path / "beir"), "--query_prefix", "",
                   "--device", "cpu"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["settings"]["query_prefix"] == ""


def test_shared_dbpedia_subset_loads(shared_data):
    data = load_beir(shared_data / "eval" / "beir-dbpedia-entity-subset")
    assert len(data.corpus) == 5000 and len(data.queries) == 50
    assert len(data.qrels) == 40  # header line skipped, 10 queries without judgments
    assert sum(len(j) for j in data.qrels.values()) == 3709
    assert all(doc in data.corpus for j in data.qrels.values() for doc in j)


def last_json(capsys):
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_help_names_every_setting_flag_with_its_default():
    text = " ".join(evaluate.build_parser().format_help().split())
    for flag in ("--settings_from", "--query_prefix", "--passage_prefix", "--query_max_length", "--passage_max_length"):
        assert flag in text
    assert text.count("(default: the stored setting") == 4


def test_resolve_settings_replaces_only_the_given_fields():
    stored = EncoderSettings(query_prefix="", passage_prefix="", query_max_length=256, passage_max_length=256)
    assert evaluate.resolve_settings(stored, {"query_max_length": 32, "passage_prefix": None}) == dataclasses.replace(
        stored, query_max_length=32)
    assert evaluate.resolve_settings(stored, {"query_prefix": ""}) == stored  # '' is a value, not "not given"


def test_start_model_at_trained_settings_embeds_like_the_trained_one(tiny_encoder, tmp_path, capsys):
    """The step-0 control: the start model's weights with the trained model's stored settings.

    "trained" here is the same weights saved with other settings, so the control must score exactly
    as it does (the settings are used, not only reported), and the start model as it is differs."""
    own = EncoderSettings(query_prefix="", passage_prefix="", query_max_length=40, passage_max_length=60)
    tiny_encoder.settings = own
    start = save_encoder(tiny_encoder, tmp_path / "start")
    trained_settings = EncoderSettings(query_max_length=8, passage_max_length=12)
    tiny_encoder.settings = trained_settings
    trained = save_encoder(tiny_encoder, tmp_path / "trained")
    data = write_demo_beir(str(tmp_path / "beir"), n_queries=10, docs_per_topic=5)
    common = ["--data", data, "--device", "cpu"]

    evaluate_main(["--model", str(start)] + common)
    as_is = last_json(capsys)
    evaluate_main(["--model", str(start), "--settings_from", str(trained)] + common)
    control = last_json(capsys)
    evaluate_main(["--model", str(trained)] + common)
    reference = last_json(capsys)

    assert as_is["settings"] == own.to_dict()
    assert control["settings"] == reference["settings"] == trained_settings.to_dict()
    assert control["settings_from"] == str(trained) and as_is["settings_from"] == str(start)
    metrics = ("ndcg@10", "recall@100", "mrr@10")
    assert [control[m] for m in metrics] == [reference[m] for m in metrics]
    assert [as_is[m] for m in metrics] != [control[m] for m in metrics]

    evaluate_main(["--model", str(start), "--query_max_length", "8", "--passage_max_length", "12",
                   "--query_prefix", "query: ", "--passage_prefix", "passage: "] + common)
    flags = last_json(capsys)
    assert flags["settings"] == trained_settings.to_dict()
    assert [flags[m] for m in metrics] == [reference[m] for m in metrics]

    evaluate_main(["--model", str(start), "--settings_from", str(trained), "--passage_max_length", "20"] + common)
    assert last_json(capsys)["settings"] == dataclasses.replace(trained_settings, passage_max_length=20).to_dict()


def test_a_plan_evaluates_each_model_in_one_process_as_separate_runs_would(tiny_encoder, tmp_path, capsys):
    model = save_encoder(tiny_encoder, tmp_path / "model")
    data = str(write_beir(tmp_path / "beir"))
    alone = evaluate_main(["--model", str(model), "--data", data, "--device", "cpu"])
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps([{"name": "trained", "model": str(model), "settings_from": None},
                                {"name": "again", "model": str(model), "settings_from": str(model)}]))
    capsys.readouterr()
    evaluate_main(["--data", data, "--plan", str(plan), "--device", "cpu"])
    runs = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["runs"]
    assert list(runs) == ["trained", "again"]
    for run in runs.values():
        assert run["ndcg@10"] == pytest.approx(alone["ndcg@10"]) and run["settings"] == alone["settings"]
        assert set(run["ndcg@10_per_query"]) == {"q1", "q2"}  # judged queries only
        assert np.mean(list(run["ndcg@10_per_query"].values())) == pytest.approx(run["ndcg@10"])


@pytest.mark.parametrize("content, message", [
    ("[]", "expected a list"), ('[{"name": "a", "modle": null}]', "expected a list"),
    ('[{"name": "a"}, {"name": "a"}]', "two runs share a name"), ("{", "not a readable JSON file")])
def test_a_bad_plan_is_refused_before_any_model_loads(tmp_path, capsys, content, message):
    plan = tmp_path / "plan.json"
    plan.write_text(content)
    with pytest.raises(SystemExit):
        evaluate_main(["--data", str(write_beir(tmp_path / "beir")), "--plan", str(plan)])
    assert message in capsys.readouterr().err
