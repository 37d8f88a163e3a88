"""The main job end to end on the built-in demo inputs, with a tiny random encoder to stay fast."""

import json
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from model.encoder import EncoderSettings, build_random_encoder  # noqa: E402
from model.saving import save_encoder  # noqa: E402
from pipelines import main  # noqa: E402
from sources.demo_inputs.beir import write_demo_beir  # noqa: E402

TINY = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
            max_position_embeddings=64)


def test_demo_runs_every_stage_on_all_five_sources_and_prints_the_table(tmp_path, capsys):
    base = save_encoder(build_random_encoder(TINY, settings=EncoderSettings(query_max_length=16,
                                                                           passage_max_length=32)), tmp_path / "base")
    eval_data = write_demo_beir(str(tmp_path / "eval"), n_queries=10, docs_per_topic=5)
    assert main.main(["--demo", "--output", str(tmp_path / "run"), "--base_model", str(base), "--eval_data", eval_data,
                      "--train_steps", "2", "--batch_size", "8", "--pool_size", "200", "--eval_start_own_settings",
                      "--source_option", "wikipedia.max_passage_words=120"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"logs: {tmp_path / 'run' / 'logs'}/")
    for stage in [f"extract {source}" for source in main.SOURCES] + [
            "train noisy model", "consistency filter", "train final model", "evaluate (nDCG@10)"]:
        assert stage in out
    assert "[train noisy] started (log: " in out and "[evaluate] started (log: " in out
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert [os.path.basename(os.path.dirname(v)) for v in summary["versions"]] == list(main.SOURCES)
    wikipedia = json.loads(open(os.path.join(summary["versions"][2], "manifest.json")).read())
    assert wikipedia["options"]["max_passage_words"] == 120  # --source_option reached the source job
    corpus = json.loads(open(os.path.join(summary["corpus"], "manifest.json")).read())
    filtered = json.loads(open(os.path.join(summary["filtered"], "manifest.json")).read())
    assert all(corpus["source_counts"][source]["pairs_kept"] > 0 for source in main.SOURCES)
    assert set(filtered["pairs_in"]) == set(main.SOURCES)  # the filtered version read pairs of each source
    scores = summary["eval"]
    assert list(scores) == ["base", "step0_control", "noisy", "final"]
    assert all(0.0 <= m["ndcg@10"] <= 1.0 for m in scores.values())
    # the control is the start model at the trained models' stored settings (here 32/64 tokens, not 16/32)
    assert scores["step0_control"]["model"] == scores["base"]["model"] == str(base)
    assert scores["step0_control"]["settings_from"] == summary["noisy_model"]
    assert scores["step0_control"]["settings"] == scores["noisy"]["settings"] == scores["final"]["settings"]
    assert scores["base"]["settings"]["query_max_length"] == 16
    assert scores["noisy"]["settings"]["query_max_length"] == 32
    assert summary["eval_compare_with"] == "step0_control"
    assert set(summary["eval_changes"]) == {"noisy", "final"}
    assert "compare noisy and final with step0_control" in out and "warning" not in out
    assert "final - step0_control: nDCG@10" in out and "generated demo text" in out
    assert filtered["counts"]["records_read"] == sum(filtered["pairs_in"].values()) > 0
    assert os.path.isfile(os.path.join(summary["final_model"], "modules.json"))
    for version in (summary["corpus"], summary["filtered"]):  # generated inputs: both cards say so
        assert "**Synthetic demo data.**" in open(os.path.join(version, "README.md")).read()


def evaluation_output(name, settings, ndcg):
    """What model.evaluate prints for one row, reduced to what the table reads."""
    return {"ndcg@10": ndcg, "recall@100": 0.9, "mrr@10": 0.5, "model": name, "settings": settings}


START = {"query_prefix": "", "passage_prefix": "", "query_max_length": 256, "passage_max_length": 256}
TRAINED = {"query_prefix": "query: ", "passage_prefix": "passage: ", "query_max_length": 32, "passage_max_length": 128}


def test_evaluation_plan_has_the_step0_control_at_the_noisy_models_settings():
    plan = main.evaluation_plan("start", "runs/noisy/model", "runs/final/model")
    assert [(run.name, run.model, run.settings_from) for run in plan] == [
        ("step0_control", "start", "runs/noisy/model"),
        ("noisy", "runs/noisy/model", None),
        ("final", "runs/final/model", None)]
    assert main.evaluation_plan(None, "n", "f")[0] == main.Evaluation("step0_control", None, "n")  # bundled model
    # the start model at its own settings costs one more embedding of the corpus: asked for by a flag
    assert main.evaluation_plan("start", "n", "f", start_own_settings=True)[0] == main.Evaluation("base", "start", None)


def test_source_options_are_checked_by_the_source_jobs_own_parser_before_any_stage(tmp_path, capsys):
    args = ["--demo", "--output", str(tmp_path / "run")]
    parser = main.build_parser()
    parsed = parser.parse_args(args + ["--source_option", "wikipedia.max_passage_words=200",
                                       "--source_option", "reddit.drop_nsfw=true",
                                       "--source_option", "reddit.any_language=false"])
    options = main.check_arguments(parser, parsed)
    assert options == {"wikipedia": {"max_passage_words": "200"}, "reddit": {"drop_nsfw": True, "any_language": False}}
    for bad, message in [("wikipedia.max_passage_wrds=200", "max_passage_wrds"),
                         ("wikipedia.max_passage_words=lots", "max_passage_words"),
                         ("imdb.top_n=1", "no source 'imdb'"), ("wikipedia=3", "SOURCE.NAME=VALUE")]:
        with pytest.raises(SystemExit):
            main.check_arguments(parser, parser.parse_args(args + ["--source_option", bad]))
        assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_source_option_for_a_source_not_given_is_refused(tmp_path, capsys):
    parser = main.build_parser()
    dump = tmp_path / "RC_x.zst"
    dump.write_bytes(b"")
    with pytest.raises(SystemExit):
        main.check_arguments(parser, parser.parse_args(["--output", str(tmp_path / "run"), "--reddit_input", str(dump),
                                                         "--source_option", "wikipedia.max_passage_words=200"]))
    assert "no --wikipedia_input given" in capsys.readouterr().err


def test_every_source_has_an_input_flag_and_at_least_one_is_required(tmp_path, capsys):
    parser = main.build_parser()
    with pytest.raises(SystemExit):
        main.check_arguments(parser, parser.parse_args(["--output", str(tmp_path / "run")]))
    err = capsys.readouterr().err
    assert all(f"--{source}_input" in err for source in main.SOURCES) and len(main.SOURCES) == 5


def test_change_lines_carry_a_paired_bootstrap_interval_and_say_when_it_is_noise():
    control = evaluation_output("start", TRAINED, 0.5)
    control["ndcg@10_per_query"] = {f"q{i}": 0.5 for i in range(40)}
    same = dict(evaluation_output("noisy", TRAINED, 0.5), **{"ndcg@10_per_query": {
        f"q{i}": 0.5 + (0.1 if i % 2 else -0.1) for i in range(40)}})
    better = dict(evaluation_output("final", TRAINED, 0.6), **{"ndcg@10_per_query": {
        f"q{i}": 0.6 + (0.01 if i % 2 else -0.01) for i in range(40)}})
    scores = {"step0_control": control, "noisy": same, "final": better}
    assert main.change_line(scores, "noisy").endswith("within noise)")
    line = main.change_line(scores, "final")
    assert line.startswith("final - step0_control: nDCG@10 +0.1000 (95% paired bootstrap over 40 queries:")
    assert line.endswith("; better)")


def test_evaluation_table_shows_each_rows_settings_and_the_row_to_compare_with():
    scores = {"base": evaluation_output("start", START, 0.5114), "step0_control": evaluation_output("start", TRAINED, 0.4990),
              "noisy": evaluation_output("noisy", TRAINED, 0.5203), "final": evaluation_output("final", TRAINED, 0.5301)}
    text = main.render_evaluation(scores, "beir/dbpedia")
    lines = text.splitlines()
    assert lines[0] == "evaluation on beir/dbpedia:"
    assert lines[1].split() == ["model", "query", "prefix", "passage", "prefix", "tokens", "q/p", "nDCG@10",
                                "recall@100", "mrr@10"]
    rows = {line.split()[0]: line for line in lines[3:7]}
    assert rows["base"].split() == ['base', '""', '""', "256/256", "0.5114", "0.9000", "0.5000"]
    assert rows["step0_control"].split() == ["step0_control", '"query:', '"', '"passage:', '"', "32/128", "0.4990",
                                             "0.9000", "0.5000"]
    assert rows["final"].split()[-4:] == ["32/128", "0.5301", "0.9000", "0.5000"]
    assert lines[7].startswith("compare noisy and final with step0_control:") and len(lines) == 8


def test_evaluation_table_warns_when_a_trained_model_used_other_settings():
    scores = {"base": evaluation_output("start", START, 0.5), "step0_control": evaluation_output("start", TRAINED, 0.5),
              "noisy": evaluation_output("noisy", TRAINED, 0.5), "final": evaluation_output("final", START, 0.5)}
    assert main.render_evaluation(scores, "d").splitlines()[-1] == \
        "warning: final embedded with other settings than step0_control"
