"""Every cleaner on adversarial inputs at 1x and 4x the size, in one run: linear means about 4x.

    python benchmarks/adversarial_cleaners.py [--chars 20000]

Inputs repeat one unit that opens a construct and never closes it ("**a ", "[a](", ...), the
shape that makes a lazy or nested regex quadratic. Writes benchmarks/results/adversarial_cleaners.md.
"""

import argparse
import os
import platform
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from sources.text.html_text import html_to_text  # noqa: E402
from sources.text.langid import clean_text  # noqa: E402
from sources.text.markdown import clean_markdown  # noqa: E402
from sources.text.normalize import repair_mojibake  # noqa: E402

RESULTS = os.path.join(ROOT, "benchmarks", "results", "adversarial_cleaners.md")
UNITS = ["**a ", "__a ", "~~a ", ">!a ", "*a ", "_a ", "^(a ", "[a](", "![a](", "[a](<", "[a][", "`a ", "***a ",
         "&amp;", "<p>a ", "<code>a ", "http://a.b/( ", "\\", "a\u200b ",
         "```a\n", "> a\n", "    a\n\n", "<pre>a\n  b ", "<a ", "<script>a ", "\u00c3\u00a9a "]  # code blocks, quotes, mojibake (issue 10)
CLEANERS = {"sources.text.markdown.clean_markdown": clean_markdown,
            "clean_markdown(drop_quotes=True)": lambda text: clean_markdown(text, drop_quotes=True),
            "sources.text.normalize.repair_mojibake": lambda text: repair_mojibake(text)[0],
            "sources.text.html_text.html_to_text": html_to_text, "sources.text.langid.clean_text": clean_text}
from sources import wikipedia  # noqa: E402

CLEANERS["sources.wikipedia.page_sections"] = lambda text: wikipedia.page_sections(text, wikipedia.WikipediaConfig())
UNITS += ["{{a ", "[[a ", "{|a ", "<ref>a ", "''a ", "<!--a ", "{{a\n\nb ", "x <math>y "]
# issue 10's second round: typed-in HTML tags, S2 abstract breaks and cuts, copied query text
from sources.text.ngrams import drop_copied_runs  # noqa: E402
from sources.semanticscholar import clean_abstract  # noqa: E402

CLEANERS["sources.semanticscholar.clean_abstract"] = clean_abstract
CLEANERS["sources.text.ngrams.drop_copied_runs (text vs itself)"] = lambda text: drop_copied_runs(text, text)[0]
UNITS += ["<a x=y ", "<i>a ", " ::: a", "BACKGROUND ::: ", "a ... ", "\\% "]


def seconds(clean, text, repeats=3):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        clean(text)
        best = min(best, time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=20_000)
    args = parser.parse_args()
    lines = ["# Cleaners on adversarial inputs: 1x and 4x the size", "",
             f"`python benchmarks/adversarial_cleaners.py --chars {args.chars}` on {os.cpu_count()} cores, Python "
             f"{platform.python_version()}; best of 3 per cell. Linear cost gives a ratio near 4 (a capped cleaner, "
             "like language ID's, which reads a bounded prefix, near 1); quadratic gives 16.", "",
             "| unit repeated | " + " | ".join(f"{name} ms (4x ratio)" for name in CLEANERS) + " |",
             "|---|" + "---:|" * len(CLEANERS)]
    worst = 0.0
    for unit in UNITS:
        cells = []
        for clean in CLEANERS.values():
            small = unit * (args.chars // len(unit))
            t1, t4 = seconds(clean, small), seconds(clean, small * 4)
            ratio = t4 / max(t1, 1e-7)
            if t4 > 1e-3:
                worst = max(worst, ratio)
            cells.append(f"{t1 * 1e3:.2f} ({ratio:.1f}x)")
        lines.append(f"| `{unit!r}` | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    lines += ["", f"Largest 4x ratio among cells above 1 ms at 4x: {worst:.1f} (16 would be quadratic)."]
    with open(RESULTS, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
