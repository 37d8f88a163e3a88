"""The main job end to end on the built-in demo inputs, with a tiny random encoder to stay fast."""

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from model.encoder import EncoderSettings, build_random_encoder  # noqa: E402
from model.saving import save_encoder  # noqa: E402
from pipelines import main  # noqa: E402
from sources.demo_inputs.beir import write_demo_beir  # noqa: E402

TINY = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
            max_position_embeddings=64)


def test_demo_runs_every_stage_and_prints_the_table(tmp_path, capsys):
    base = save_encoder(build_random_encoder(TINY, settings=EncoderSettings(query_max_length=16,
                                                                           passage_max_length=32)), tmp_path / "base")
    eval_data = write_demo_beir(str(tmp_path / "eval"), n_queries=10, docs_per_topic=5)
    assert main.main(["--demo", "--output", str(tmp_path / "run"), "--base_model", str(base), "--eval_data", eval_data,
                   "--train_steps", "2", "--batch_size", "8", "--pool_size", "200"]) == 0
    out = capsys.readouterr().out
    for stage in ("extract reddit", "extract stackexchange", "train noisy model", "consistency filter",
                  "train final model", "evaluate (nDCG@10)"):
        assert stage in out
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert set(summary["eval"]) == {"base", "noisy", "final"}
    assert all(0.0 <= m["ndcg@10"] <= 1.0 for m in summary["eval"].values())
    filtered = json.loads(open(os.path.join(summary["filtered"], "manifest.json")).read())
    assert filtered["counts"]["records_read"] == sum(filtered["pairs_in"].values()) > 0
    assert os.path.isfile(os.path.join(summary["final_model"], "modules.json"))
