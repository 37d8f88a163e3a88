"""Run the fuzz properties of tests/sources/test_fuzz.py with a large budget; record inputs tried.

    python benchmarks/fuzz.py [--examples 5000]

CI runs the same properties with 150 examples each (profile "ci"); this run is the deep one.
Writes benchmarks/results/fuzz.md.
"""

import argparse
import os
import platform
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
RESULTS = os.path.join(ROOT, "benchmarks", "results", "fuzz.md")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000)
    args = parser.parse_args()
    os.environ["HYPOTHESIS_PROFILE"] = "long"
    from hypothesis import settings

    from tests.sources import test_fuzz

    properties = [getattr(test_fuzz, name) for name in dir(test_fuzz) if name.startswith("test_")]
    rows, failures = [], []
    for prop in properties:
        start = time.perf_counter()
        try:
            settings(max_examples=args.examples)(prop)()
            verdict = "held"
        except Exception as exc:  # noqa: BLE001 - a falsified property is the finding to report
            verdict = f"FAILED: {type(exc).__name__}: {str(exc)[:200]}"
            failures.append(prop.__name__)
        rows.append((prop.__name__, verdict, time.perf_counter() - start))
        print(f"{prop.__name__:72s} {verdict} {rows[-1][2]:.1f}s", flush=True)
    lines = ["# Fuzzing: every parser and cleaner, property-based (hypothesis)", "",
             f"`python benchmarks/fuzz.py --examples {args.examples}` on {os.cpu_count()} cores, Python "
             f"{platform.python_version()}. CI runs the same properties (tests/sources/test_fuzz.py) with 150 "
             "examples each.", "", "| property | verdict | seconds |", "|---|---|---:|"]
    lines += [f"| `{name}` | {verdict} | {seconds:.1f} |" for name, verdict, seconds in rows]
    lines += ["", "Inputs tried (parser or cleaner calls, shrinking included):", ""]
    lines += [f"- {name}: {n:,}" for name, n in sorted(test_fuzz.TRIED.items())]
    with open(RESULTS, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
