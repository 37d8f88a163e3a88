"""The training loop: exact resume, logs, and a saved model that loads everywhere."""

import json

import numpy as np
import pytest
import torch

from model.train import train


def args_for(pairs_dir, output, config, *extra):
    return ["--pairs", str(pairs_dir), "--output", str(output), "--init_config", str(config),
            "--batch_size", "8", "--chunk_size", "3", "--max_steps", "20", "--save_every", "5",
            "--log_every", "1", "--query_max_length", "16", "--passage_max_length", "24",
            "--lr", "1e-3", "--warmup_steps", "3", "--seed", "11", "--device", "cpu", "--no_progress",
            *extra]


def read_log(output):
    return [json.loads(l) for l in (output / "train_log.jsonl").read_text().splitlines()]


def final_weights(output):
    return torch.load(output / "checkpoints" / "step-00000020.pt", weights_only=False)["model"]


def assert_same_run(straight, resumed, steps=20):
    """Two runs' logs and final weights are bitwise equal: the resumed one continued exactly."""
    a, b = read_log(straight), read_log(resumed)
    assert [r["step"] for r in b] == list(range(1, steps + 1))
    for x, y in zip(a, b):
        for key in ("loss", "accuracy", "lr", "grad_norm", "source", "skipped_duplicates"):
            assert x[key] == y[key], (x["step"], key)  # bitwise: same floats
    wa, wb = final_weights(straight), final_weights(resumed)
    for name in wa:
        assert torch.equal(wa[name], wb[name]), name


def test_resume_is_exact(pairs_dir, tiny_config_json, tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train(args_for(pairs_dir, straight, tiny_config_json))
    half = train(args_for(pairs_dir, resumed, tiny_config_json, "--stop_after_step", "10"))
    assert half["step"] == 10 and not (resumed / "model").exists()
    train(args_for(pairs_dir, resumed, tiny_config_json, "--resume"))

    assert_same_run(straight, resumed)
    log = read_log(straight)
    assert log[0]["loss"] > log[-1]["loss"]  # and it is learning something


def test_resume_refuses_a_different_run(pairs_dir, tiny_config_json, tmp_path, capsys):
    out = tmp_path / "run"
    train(args_for(pairs_dir, out, tiny_config_json, "--stop_after_step", "5"))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        train(args_for(pairs_dir, out, tiny_config_json, "--resume", "--batch_size", "4"))
    assert exit_info.value.code == 2
    assert "--resume with different ['batch_size']" in capsys.readouterr().err


def test_log_records_and_saved_model(pairs_dir, tiny_config_json, tmp_path):
    from sentence_transformers import SentenceTransformer

    from model.embed import embed_texts, load_encoder

    out = tmp_path / "run"
    summary = train(args_for(pairs_dir, out, tiny_config_json, "--symmetric", "--max_steps", "6",
                             "--keep_checkpoints", "1"))
    record = read_log(out)[-1]
    for key in ("loss", "accuracy", "lr", "pairs_per_s", "tokens_per_s", "grad_norm", "source"):
        assert key in record
    assert record["pairs_per_s"] > 0 and record["tokens_per_s"] > record["pairs_per_s"]
    assert [p.name for p in (out / "checkpoints").glob("*.pt")] == ["step-00000006.pt"]
    assert (out / "checkpoints" / "latest").read_text().strip() == "step-00000006.pt"
    encoder = load_encoder(summary["model"], "cpu")
    assert encoder.settings.query_prefix == "query: " and encoder.settings.query_max_length == 16
    texts = ["river mountain coffee", "pilot teacher student window"]
    st = SentenceTransformer(summary["model"], device="cpu")
    np.testing.assert_allclose(embed_texts(encoder, texts, "query"),
                               st.encode(texts, prompt_name="query"), atol=1e-5)


def test_incomplete_pairs_are_refused(pairs_dir, tiny_config_json, tmp_path, capsys):
    (pairs_dir / "beta" / "v1" / "manifest.json").unlink()
    with pytest.raises(SystemExit) as exit_info:
        train(args_for(pairs_dir / "beta" / "v1", tmp_path / "run", tiny_config_json))
    assert exit_info.value.code == 2 and "incomplete" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before any work


def test_hard_negative_column_is_used(pairs_dir, tiny_config_json, tmp_path):
    """A Parquet column with one hard negative per pair joins every query's candidates."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    version = pairs_dir / "alpha" / "v1"
    for shard in version.glob("pairs-*.parquet"):
        table = pq.read_table(shard)
        passages = table["passage"].to_pylist()
        negatives = passages[1:] + passages[:1]  # another row's passage: a real, hard-ish negative
        pq.write_table(table.append_column("hard_negative", pa.array(negatives)), shard, row_group_size=16)
    plain = train(args_for(version, tmp_path / "plain", tiny_config_json, "--max_steps", "2"))
    hard = train(args_for(version, tmp_path / "hard", tiny_config_json, "--max_steps", "2",
                          "--hard_negative_column", "hard_negative"))
    first = lambda out: read_log(out)[0]["loss"]
    assert first(tmp_path / "hard") > first(tmp_path / "plain")  # more negatives, higher initial loss
    assert hard["step"] == plain["step"] == 2


def test_resume_trains_on_the_shards_the_checkpoint_recorded(pairs_dir, tiny_config_json, tmp_path, caplog):
    """A newer version and a new source appear under --pairs between the two halves: ignored on resume."""
    import logging

    from model.pairs_io import pairs_from_texts, write_pair_version
    from tests.model.conftest import make_texts

    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train(args_for(pairs_dir, straight, tiny_config_json))
    train(args_for(pairs_dir, resumed, tiny_config_json, "--stop_after_step", "10"))
    write_pair_version(pairs_dir / "alpha" / "v2", pairs_from_texts("alpha", make_texts(50, seed=31)))
    write_pair_version(pairs_dir / "gamma" / "v1", pairs_from_texts("gamma", make_texts(50, seed=32)))
    with caplog.at_level(logging.WARNING):
        train(args_for(pairs_dir, resumed, tiny_config_json, "--resume"))
    assert_same_run(straight, resumed)
    assert "training goes on with the checkpoint's 4 shards" in caplog.text
    config = json.loads((straight / "train_config.json").read_text())
    assert [p.rsplit("/", 2)[-2:] for p in config["pair_versions"]] == [["alpha", "v1"], ["beta", "v1"]]


def test_pairs_root_mixing_extracted_and_filtered_versions_is_refused(pairs_dir, tiny_config_json, tmp_path, capsys):
    from tests.model.test_data import filtered_version

    filtered_version(pairs_dir / "consistency" / "v1", "alpha", 30, seed=1)
    with pytest.raises(SystemExit) as exit_info:
        train(args_for(pairs_dir, tmp_path / "run", tiny_config_json))
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "mixes extracted versions" in err and "consistency/v1" in err
    assert not (tmp_path / "run").exists()
