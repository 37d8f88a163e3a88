"""--resume refuses a run that would not continue the checkpoint's (issue 15): another world size, model,
tokenizer, scale, symmetric loss, max lengths or prefixes; a moved but identical model is the same run."""

import json
import shutil

import pytest

from model.encoder import build_random_encoder
from model.pairs_io import pairs_from_texts, write_pair_version
from model.saving import save_encoder
from model.train import train
from tests.model.conftest import TINY_BERT, TINY_SETTINGS, make_texts


def base_args(pairs, output, *extra):
    return ["--pairs", str(pairs), "--output", str(output), "--batch_size", "8", "--chunk_size", "3",
            "--max_steps", "6", "--save_every", "2", "--query_max_length", "16", "--passage_max_length", "24",
            "--lr", "1e-3", "--warmup_steps", "1", "--device", "cpu", "--no_progress", *extra]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two runs stopped at step 2: one from --init_config, one from a --model folder."""
    root = tmp_path_factory.mktemp("resume")
    pairs = root / "pairs"
    write_pair_version(pairs / "alpha" / "v1", pairs_from_texts("alpha", make_texts(48, seed=1)))
    (root / "bert.json").write_text(json.dumps(TINY_BERT))
    (root / "other_bert.json").write_text(json.dumps(dict(TINY_BERT, intermediate_size=48)))
    save_encoder(build_random_encoder(TINY_BERT, settings=TINY_SETTINGS, seed=0), root / "model")
    build_random_encoder(TINY_BERT).tokenizer.save_pretrained(str(root / "tokenizer"))  # other files, same vocab
    train(base_args(pairs, root / "from_config", "--init_config", str(root / "bert.json"), "--stop_after_step", "2"))
    train(base_args(pairs, root / "from_model", "--model", str(root / "model"), "--stop_after_step", "2"))
    return root


def refusal(capsys, argv):
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        train(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("extra, changed", [
    (["--scale", "50"], "['scale']"),
    (["--symmetric"], "['symmetric']"),
    (["--query_max_length", "12"], "['query_max_length']"),
    (["--passage_max_length", "20"], "['passage_max_length']"),
    (["--query_prefix", "q: "], "['query_prefix']"),
    (["--weight_decay", "0.1"], "['weight_decay']"),
])
def test_a_changed_objective_or_length_is_refused(runs, capsys, extra, changed):
    argv = base_args(runs / "pairs", runs / "from_config", "--init_config", str(runs / "bert.json"), "--resume", *extra)
    assert f"--resume with different {changed} would not continue the same run" in refusal(capsys, argv)


def test_another_init_config_or_tokenizer_is_refused(runs, capsys):
    argv = base_args(runs / "pairs", runs / "from_config", "--resume")
    err = refusal(capsys, argv + ["--init_config", str(runs / "other_bert.json")])
    assert "--resume with different ['init_config']" in err
    err = refusal(capsys, argv + ["--init_config", str(runs / "bert.json"), "--tokenizer", str(runs / "tokenizer")])
    assert "--resume with different ['tokenizer']" in err
    err = refusal(capsys, argv + ["--model", str(runs / "model")])
    assert "--resume with different ['init_config', 'model', 'tokenizer']" in err


def test_another_world_size_is_refused(runs, capsys, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")  # refused before any process group is needed
    argv = base_args(runs / "pairs", runs / "from_config", "--init_config", str(runs / "bert.json"), "--resume")
    assert "--resume with different ['world_size'] would not continue the same run (world_size: 1 in the " \
           "checkpoint, 2 now)" in refusal(capsys, argv)


def test_a_model_folder_with_other_contents_is_refused_and_a_moved_one_is_not(runs, capsys, tmp_path):
    changed = tmp_path / "model"
    save_encoder(build_random_encoder(TINY_BERT, settings=TINY_SETTINGS, seed=1), changed)  # other weights
    output = tmp_path / "run"
    shutil.copytree(runs / "from_model", output)
    argv = base_args(runs / "pairs", output, "--resume")
    assert "--resume with different ['model']" in refusal(capsys, argv + ["--model", str(changed)])

    moved = tmp_path / "moved"
    shutil.copytree(runs / "model", moved)
    assert train(argv + ["--model", str(moved)])["step"] == 6  # same bytes elsewhere: the same model


def test_nothing_is_written_by_a_refused_resume(runs, capsys):
    before = sorted(p.name for p in (runs / "from_config").rglob("*"))
    argv = base_args(runs / "pairs", runs / "from_config", "--init_config", str(runs / "bert.json"), "--resume",
                     "--scale", "20")
    refusal(capsys, argv)
    assert sorted(p.name for p in (runs / "from_config").rglob("*")) == before
