"""model.train under crashes and misuse (issue 9): kill -9 and resume, torn or unnamed checkpoints,
two runs on one --output, max lengths beyond the model's positions."""

import json
import logging
import subprocess
import sys
import time

import pytest
import torch

from model import atomic, run_lock
from model import checkpoint as ckpt
from model.pairs_io import pairs_from_texts, write_pair_version
from model.train import train
from tests.model.conftest import TINY_BERT, make_texts
from tests.model.processes import kill_9, kill_moment_rng, start_command, wait_until
from tests.model.test_train import args_for, assert_same_run


@pytest.fixture(scope="module")
def run_setup(tmp_path_factory):
    """Pairs, a BertConfig file, and one uninterrupted 20-step run to compare every other run with."""
    root = tmp_path_factory.mktemp("train")
    write_pair_version(root / "pairs" / "alpha" / "v1", pairs_from_texts("alpha", make_texts(96, seed=1)),
                       num_shards=2, rows_per_group=16)
    config = root / "tiny_bert.json"
    config.write_text(json.dumps(TINY_BERT))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as every test's run (conftest) and the child processes
    try:
        train(args_for(root / "pairs", root / "straight", config))
    finally:
        torch.set_num_threads(threads)
    return root / "pairs", config, root / "straight"


def checkpoint_dir(out):
    return out / "checkpoints"


def test_resume_finds_a_checkpoint_that_latest_does_not_name(run_setup, tmp_path):
    """Killed between the first checkpoint's rename and the `latest` write: step-5 is complete."""
    pairs, config, straight = run_setup
    out = tmp_path / "run"
    train(args_for(pairs, out, config, "--stop_after_step", "5"))
    (checkpoint_dir(out) / "latest").unlink()
    train(args_for(pairs, out, config, "--resume"))
    assert_same_run(straight, out)


def test_resume_skips_a_torn_newest_checkpoint_with_a_warning(run_setup, tmp_path, caplog):
    pairs, config, straight = run_setup
    out = tmp_path / "run"
    train(args_for(pairs, out, config, "--stop_after_step", "10", "--keep_checkpoints", "0"))
    whole = (checkpoint_dir(out) / "step-00000010.pt").read_bytes()
    (checkpoint_dir(out) / "step-00000015.pt").write_bytes(whole[: len(whole) // 2])  # damaged on disk
    (checkpoint_dir(out) / "latest").write_text("step-00000015.pt\n")

    with caplog.at_level(logging.WARNING):
        train(args_for(pairs, out, config, "--resume"))
    skipped = [r.getMessage() for r in caplog.records if "skipping checkpoint" in r.getMessage()]
    assert len(skipped) == 1 and "step-00000015.pt: does not load" in skipped[0]
    assert_same_run(straight, out)


def test_resume_drops_a_log_line_torn_by_a_kill(run_setup, tmp_path):
    """train_log.jsonl is appended to; a kill mid-append leaves half a line."""
    pairs, config, straight = run_setup
    out = tmp_path / "run"
    train(args_for(pairs, out, config, "--stop_after_step", "10"))
    with open(out / "train_log.jsonl", "a") as log:
        log.write('{"step": 11, "source": "al')
    train(args_for(pairs, out, config, "--resume"))
    assert_same_run(straight, out)


def test_kill_9_at_a_random_moment_then_resume_equals_an_uninterrupted_run(run_setup, tmp_path):
    pairs, config, straight = run_setup
    out = tmp_path / "run"
    rng = kill_moment_rng()
    first_step = rng.randint(1, 12)  # the kill comes after this checkpoint, with steps still to go
    argv = args_for(pairs, out, config, "--save_every", "1")
    process = start_command("model.train", argv)
    wait_until(lambda: any(ckpt.checkpoint_step(p) >= first_step for p in ckpt.checkpoint_files(checkpoint_dir(out))),
               process)
    time.sleep(rng.uniform(0, 0.03))
    kill_9(process)

    for path in ckpt.checkpoint_files(checkpoint_dir(out)):
        ckpt.read_training_state(path)  # every file under a checkpoint name is whole
    train(argv + ["--resume"])  # takes over the dead run's lock
    assert_same_run(straight, out)
    assert not (out / run_lock.LOCK_NAME).exists()
    leftovers = [p for p in out.rglob("*") if atomic.is_temp_name(p.name)]
    assert not leftovers, leftovers  # temp files of the killed writes are cleared


def test_a_second_run_on_the_same_output_fails_in_one_line(run_setup, tmp_path, capsys):
    pairs, config, _ = run_setup
    out = tmp_path / "run"
    held = run_lock.acquire(out)  # a live run (this process) holds --output
    with pytest.raises(SystemExit) as exit_info:
        train(args_for(pairs, out, config, "--max_steps", "2"))
    lines = capsys.readouterr().err.splitlines()
    assert exit_info.value.code == 2 and len(lines) == 1
    assert "is in use by another model.train run" in lines[0] and "pid" in lines[0]
    assert sorted(p.name for p in out.iterdir()) == [run_lock.LOCK_NAME]  # nothing of the run written
    held.release()
    assert train(args_for(pairs, out, config, "--max_steps", "2"))["step"] == 2


def dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_dead_runs_lock_is_taken_over_with_a_warning(run_setup, tmp_path, caplog):
    pairs, config, _ = run_setup
    out = tmp_path / "run"
    out.mkdir()
    stale = run_lock.Owner(dead_pid(), run_lock.Owner.this_process().host, "2026-01-01T00:00:00Z")
    (out / run_lock.LOCK_NAME).write_bytes(stale.to_bytes())
    with caplog.at_level(logging.WARNING):
        assert train(args_for(pairs, out, config, "--max_steps", "2"))["step"] == 2
    assert "taking over" in caplog.text and str(stale.pid) in caplog.text
    assert not (out / run_lock.LOCK_NAME).exists()  # released at the end


def test_a_lock_from_another_host_is_never_taken_over(tmp_path):
    (tmp_path / run_lock.LOCK_NAME).write_bytes(run_lock.Owner(1, "another-host", "2026-01-01T00:00:00Z").to_bytes())
    with pytest.raises(run_lock.OutputLocked, match="pid 1 on another-host"):
        run_lock.acquire(tmp_path)


def test_default_lengths_are_clamped_to_a_smaller_model_with_a_warning(tmp_path, tiny_config_json, caplog):
    """E5's default passage length (128) on a 64-position model, with passages longer than 64 tokens."""
    long_texts = [(q, " ".join([p] * 6), qid, pid) for q, p, qid, pid in make_texts(16, seed=3)]  # 84 words
    write_pair_version(tmp_path / "pairs" / "alpha" / "v1", pairs_from_texts("alpha", long_texts))
    argv = ["--pairs", str(tmp_path / "pairs"), "--output", str(tmp_path / "run"), "--init_config",
            str(tiny_config_json), "--batch_size", "4", "--max_steps", "1", "--device", "cpu", "--no_progress"]
    with caplog.at_level(logging.WARNING):
        summary = train(argv)
    assert "--passage_max_length: using the model's limit 64 instead of the default 128" in caplog.text
    settings = json.loads((tmp_path / "run" / "model" / "ccpairs_encoder.json").read_text())
    assert settings["passage_max_length"] == 64 and settings["query_max_length"] == 32
    assert summary["step"] == 1
