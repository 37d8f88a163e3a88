"""The corpus job's benchmark runs a job to its end whatever it prints (the "16x stall" of issue 25).

With 16 SDK workers FnApiRunner forwards about 100 KB of worker log lines to its stderr. The benchmark
read that pipe only after the job exited, so the pipe (64 KiB) filled, the runner's logging thread
blocked on the write holding the logging lock, and the shutdown waited on workers whose log streams
could not finish. A child that writes far more than a pipe holds must still finish here.
"""

import importlib.util
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _benchmark():
    spec = importlib.util.spec_from_file_location("corpus_job_bench", ROOT / "benchmarks" / "corpus_job.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_chatty_job_runs_to_its_end(tmp_path):
    chatty = ("import sys\n"
              "for i in range(4000):\n"
              "    sys.stderr.write('x' * 120 + '\\n'); sys.stdout.write('y' * 120 + '\\n')\n"
              "sys.stderr.flush()\n")
    log = tmp_path / "job.log"
    wall, cpu, peaks, pid = _benchmark().run_polled([sys.executable, "-c", chatty], log)
    assert log.stat().st_size > 8 * 2 ** 16  # far more than a pipe's buffer went through
    assert pid in peaks and peaks[pid] > 0
    assert cpu >= 0 and wall < 60
