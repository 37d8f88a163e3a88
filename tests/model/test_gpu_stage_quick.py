"""benchmarks/gpu_stage.py --quick runs on any machine (CPU in CI) and prints every figure of issue 15."""

import json
import os
import subprocess
import sys

from tests.model.processes import CHILD_ENV, REPO


def test_quick_run_prints_every_figure():
    done = subprocess.run([sys.executable, "benchmarks/gpu_stage.py", "--quick"], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **CHILD_ENV})
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    by_figure = {}
    for record in records:
        by_figure.setdefault(record["figure"], []).append(record)
    assert by_figure["machine"][0]["scale"] == "quick"
    assert {r["path"] for r in by_figure["tokenize"]} >= {"transformers_call_main_thread", "model_tokenize_main_thread"}
    assert {(r["model"], r["path"]) for r in by_figure["embed"]} == {
        (m, p) for m in ("minilm-shape", "bert-base-shape") for p in ("before", "after", "forward_only")}
    assert {r["model"] for r in by_figure["train"]} == {"minilm-shape", "bert-base-shape"}
    assert by_figure["filter"][0]["pairs"] == 96 and set(by_figure["filter"][0]["split_seconds"]) == {
        "pool", "embed_pairs", "search", "other"}
    rates = [r[key] for r in records for key in ("texts_per_s", "passages_per_s", "pairs_per_s") if key in r]
    assert len(rates) == 3 + 6 + 2 + 1 and all(rate > 0 for rate in rates)
