"""Every source job runs as `python -m pipelines.<source>` with SDK worker processes.

Run as `-m`, a job's module is `__main__`: a class it defines (a NamedTuple row) would pickle as
`__main__.X`, which a worker process cannot import (Stack Exchange's Post did, and its
multi-processing and Dataflow runs failed while in-process runs and the tests passed). Each module
hands over to itself imported by name; this runs each one the way a user does, with two workers.
"""

import json
import pathlib
import subprocess
import sys

import pytest

from pipelines.main import SOURCES, demo_inputs

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dumps(tmp_path_factory):
    return demo_inputs(tmp_path_factory.mktemp("demo"))


@pytest.mark.parametrize("source", SOURCES)
def test_the_job_runs_as_a_module_with_two_sdk_workers(source, dumps, tmp_path):
    argv = [sys.executable, "-m", f"pipelines.{source}", *[a for d in dumps[source] for a in ("--input", d)],
            "--output", str(tmp_path / "out"), "--direct_running_mode=multi_processing", "--direct_num_workers=2"]
    log = tmp_path / "job.log"
    with open(log, "w") as handle:  # a file, not a pipe: two workers' log lines can outgrow a pipe
        done = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=handle, text=True, timeout=600)
    assert done.returncode == 0, log.read_text()[-3000:]
    manifest = json.loads((pathlib.Path(done.stdout.strip().splitlines()[-1]) / "manifest.json").read_text())
    assert manifest["counts"]["pairs"] > 0
