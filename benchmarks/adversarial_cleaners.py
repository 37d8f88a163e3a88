"""Every cleaner and framer on every adversarial shape at 1x, 4x and 16x the size, in one run.

    python benchmarks/adversarial_cleaners.py [--chars 20000]

The shapes (sources/demo_inputs/adversarial.py) are, per markup family (Markdown, HTML, wikitext,
LaTeX, punctuation), unclosed openers x n, nesting x n and separators x n: what makes a lazy or
nested regex, or a rescanning splitter, superlinear. Linear cost gives a ratio near 4 per 4x step
(near 1 for a cleaner that reads a capped prefix, like language ID's); quadratic gives 16.
Writes benchmarks/results/adversarial_cleaners.md.
"""

import argparse
import io
import os
import platform
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from sources.demo_inputs import adversarial  # noqa: E402
from sources.formats import line_ranges, mediawiki_xml, readers  # noqa: E402

RESULTS = os.path.join(ROOT, "benchmarks", "results", "adversarial_cleaners.md")
MIN_MEASURABLE = 10e-3  # seconds at 16x: below it a ratio is noise (timer, caches, a shared machine)


def seconds(run, text, repeats):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run(text)
        best = min(best, time.perf_counter() - start)
    return best


def framers():
    """Each framer on the shape's bytes: lines cut from a stream, a byte range's lines, one <page>
    holding the shape fed in 1 KB pieces (a page cut into 1 KB bz2 streams)."""

    def lines(text):
        return sum(1 for _ in readers.iter_lines(io.BytesIO(text.encode()), "shape.txt"))

    def ranges(text):
        data = text.encode()
        return sum(1 for _ in line_ranges.iter_range_lines(io.BytesIO(data), 0, len(data)))

    def page(text):
        data = b"<page><title>x</title><revision><text>" + text.encode() + b"</text></revision></page>\n"
        splitter = mediawiki_xml.PageSplitter()
        found = 0
        for start in range(0, len(data), 1024):
            found += sum(1 for _ in splitter.feed(start, data[start:start + 1024]))
        return found

    return {"readers.iter_lines": lines, "line_ranges.iter_range_lines": ranges,
            "mediawiki_xml.PageSplitter (1 KB feeds)": page}


def measure(runs, chars):
    """rows of (family, shape, [(t1, r4, r16) per run]) and the worst 16x/4x ratio measured."""
    rows, worst = [], (0.0, "", None, None)
    for family, name, shape in adversarial.all_shapes():
        texts = [adversarial.sized(shape, chars * k) for k in (1, 4, 16)]
        cells = []
        for label, run in runs.items():
            t1, t4 = seconds(run, texts[0], 3), seconds(run, texts[1], 2)
            t16 = seconds(run, texts[2], 1)
            cells.append((t1, t4 / max(t1, 1e-7), t16 / max(t4, 1e-7)))
            if t16 > MIN_MEASURABLE:
                worst = max(worst, (t16 / max(t4, 1e-7), f"{label} on {name}", run, shape))
        rows.append((family, name, cells))
        print(family, name, " ".join(f"{c[0] * 1e3:.1f}/{c[1]:.1f}/{c[2]:.1f}" for c in cells), flush=True)
    return rows, worst


def table(title, runs, rows, worst, chars):
    lines = [f"## {title}", "", "Each cell: ms at 1x / ratio 4x:1x / ratio 16x:4x.", "",
             "| family | shape | " + " | ".join(runs) + " |", "|---|---|" + "---:|" * len(runs)]
    for family, name, cells in rows:
        lines.append(f"| {family} | `{name}` | "
                     + " | ".join(f"{t1 * 1e3:.2f} / {r4:.1f} / {r16:.1f}" for t1, r4, r16 in cells) + " |")
    lines += ["", f"Largest 16x:4x ratio among cells over {MIN_MEASURABLE * 1e3:.0f} ms at 16x: {worst[0]:.1f} "
                  f"({worst[1]}); 4 is linear, 16 quadratic.{beyond(worst, chars)}", ""]
    return lines


def beyond(worst, chars) -> str:
    """The worst cell again at 16x and 64x: a superlinear cost keeps growing, a cache or timer effect does not."""
    _, label, run, shape = worst
    if run is None:
        return ""
    t16, t64 = seconds(run, adversarial.sized(shape, 16 * chars), 2), seconds(run, adversarial.sized(shape, 64 * chars), 1)
    return f" The same cell at 64x:16x: {t64 / max(t16, 1e-7):.1f} ({t16 * 1e3:.0f} ms -> {t64 * 1e3:.0f} ms)."


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=20_000, help="characters at 1x (default: 20000)")
    args = parser.parse_args()
    started = time.time()
    lines = ["# Cleaners and framers on adversarial shapes: 1x, 4x and 16x", "",
             f"`python benchmarks/adversarial_cleaners.py --chars {args.chars}` (1x = {args.chars:,} characters, "
             f"16x = {16 * args.chars:,}) on {os.cpu_count()} cores shared with other jobs, Python "
             f"{platform.python_version()}; best of 3 at 1x, 2 at 4x, 1 at 16x. The shapes are "
             "`sources/demo_inputs/adversarial.py`; `tests/sources/test_adversarial_shapes.py` runs the 16x size of "
             "each in CI as a hang guard.", ""]
    for title, runs in (("Cleaners", adversarial.cleaners()), ("Framers", framers())):
        rows, worst = measure(runs, args.chars)
        lines += table(title, runs, rows, worst, args.chars)
    lines.append(f"Total {time.time() - started:.0f} s.")
    with open(RESULTS, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
