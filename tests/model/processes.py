"""Commands run as real processes, killed with SIGKILL at a chosen moment (crash tests).

One torch thread in the child, as in the tests' own process, so that results can be compared
bitwise with a run made in-process.
"""

import os
import pathlib
import random
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
CHILD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
             "TOKENIZERS_PARALLELISM": "false"}


def kill_moment_rng():
    """A random generator for when to kill; its seed is printed (shown when the test fails) and can
    be replayed with KILL_SEED=<seed>."""
    seed = int(os.environ.get("KILL_SEED") or random.randrange(1 << 30))
    print(f"kill moment seed: {seed} (replay: KILL_SEED={seed})")
    return random.Random(seed)


def start_command(module, argv):
    """`python -m module argv...` from the repository root; stderr kept in a file for failure messages
    (a pipe read only at the end would fill up with a long log and stall the child)."""
    log = tempfile.TemporaryFile()
    process = subprocess.Popen([sys.executable, "-m", module, *map(str, argv)], cwd=REPO,
                               env={**os.environ, **CHILD_ENV}, stdout=subprocess.DEVNULL, stderr=log)
    process.log = log
    return process


def log_tail(process, chars=2000) -> str:
    """The last `chars` characters of its stderr (all with None)."""
    process.log.seek(0)
    text = process.log.read().decode(errors="replace")
    return text if chars is None else text[-chars:]


def finish(process, timeout=300.0) -> str:
    """Wait for a started command to end; its whole stderr."""
    process.wait(timeout=timeout)
    text = log_tail(process, chars=None)
    process.log.close()
    return text


def wait_until(condition, process, timeout=120.0, poll=0.002):
    """Poll until condition() holds; fails if the process exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"exited ({process.returncode}) before the moment to kill it: "
                                 f"{log_tail(process)}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("timed out waiting for the moment to kill it")
        time.sleep(poll)


def kill_9(process):
    """SIGKILL, reaped (so its pid is gone), and checked to have died by it, not finished."""
    process.kill()
    process.wait()
    process.log.close()
    assert process.returncode == -9, f"finished ({process.returncode}) before the kill"
