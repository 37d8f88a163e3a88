"""Hang guard (issue 22): every text transform on every adversarial shape at the benchmark's 16x.

Not a timing assertion: a linear cleaner takes at most about a second per shape at this size (see
benchmarks/results/adversarial_cleaners.md for 1x/4x/16x), a quadratic one tens of seconds to
hours. Each shape gets a generous PER_SHAPE_SECONDS; past it, faulthandler's watchdog (a C thread:
a running regex cannot be interrupted otherwise) prints where it was and ends the process, and the
failure names the cleaner and the shape.
"""

import concurrent.futures
import pathlib
import subprocess
import sys

import pytest

from sources.demo_inputs import adversarial

ROOT = pathlib.Path(__file__).resolve().parents[2]
LARGE_CHARS = 320_000  # 16x the benchmark's 1x
PER_SHAPE_SECONDS = 20

SCRIPT = """
import faulthandler, sys
from sources.demo_inputs import adversarial
clean = adversarial.cleaners()[sys.argv[1]]
for family, name, shape in adversarial.all_shapes():
    text = adversarial.sized(shape, int(sys.argv[2]))
    print(family, name, flush=True)
    faulthandler.dump_traceback_later(float(sys.argv[3]), exit=True)
    clean(text)
    faulthandler.cancel_dump_traceback_later()
print("done", flush=True)
"""


def test_every_family_has_each_kind_of_shape():
    names = {family: " ".join(name for name, _ in shapes) for family, shapes in adversarial.FAMILIES.items()}
    assert set(names) == {"markdown", "html", "wikitext", "latex", "punctuation"}
    for family, text in names.items():
        assert "nested" in text and ("unclosed" in text or "run of" in text), family
    assert all(len(adversarial.sized(shape, 1000)) <= 1100 for _, _, shape in adversarial.all_shapes())


def _guard(cleaner: str) -> str:
    """'' when every shape went through `cleaner` in time, else what went wrong (run in a subprocess)."""
    done = subprocess.run([sys.executable, "-c", SCRIPT, cleaner, str(LARGE_CHARS), str(PER_SHAPE_SECONDS)],
                          cwd=ROOT, capture_output=True, text=True, timeout=40 * PER_SHAPE_SECONDS)
    on = done.stdout.strip().splitlines()[-1:]
    if done.returncode == 0 and on == ["done"]:
        return ""
    return f"{cleaner} on {on}: over {PER_SHAPE_SECONDS} s, or failed: {done.stderr[-800:]}"


def test_no_shape_hangs_any_cleaner():
    """The cleaners side by side (two subprocesses at a time: CI has two cores)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        problems = [p for p in pool.map(_guard, sorted(adversarial.cleaners())) if p]
    assert problems == []
