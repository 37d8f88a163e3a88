"""Consistency filter end to end on CPU: pairs/s and the split between embedding and search.

Extracts pairs from the real samples in ../shared/data (or the generated demo dumps when absent),
then runs `filtering.filter_pairs` with all-MiniLM-L6-v2 and reports where the time goes:
pool sampling + pool embedding, pair embedding (queries and passages), and the FAISS search.
Writes benchmarks/results/filter_end_to_end.md.

    python benchmarks/filter_end_to_end.py [--backend faiss-cpu]
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from filtering import filter_pairs  # noqa: E402
from pipelines import reddit, stackexchange  # noqa: E402
from sources.demo_inputs import reddit as reddit_demo, stackexchange as se_demo  # noqa: E402

SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
RESULTS = os.path.join(ROOT, "benchmarks", "results", "filter_end_to_end.md")


def extract(tmp):
    if os.path.isdir(SHARED):
        rd = [os.path.join(SHARED, "reddit", "*.zst")]
        se = [os.path.join(SHARED, "stackexchange", "*.Posts.xml")]
        label = "real samples (../shared/data reddit + beer.stackexchange 2017)"
    else:
        rd = reddit_demo.write_demo_dumps(os.path.join(tmp, "in", "reddit"))
        se = se_demo.write_demo_dumps(os.path.join(tmp, "in", "se"))
        label = "generated demo dumps"
    out = os.path.join(tmp, "pairs")
    dirs = [reddit.run([a for i in rd for a in ("--input", i)] + ["--output", out, "--version", "b"]),
            stackexchange.run([a for i in se for a in ("--input", i)] + ["--output", out, "--version", "b"])]
    return dirs, label


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="faiss-cpu")
    parser.add_argument("--pool_size", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dirs, label = extract(tmp)
        start = time.perf_counter()
        result = filter_pairs.run(filter_pairs.build_parser().parse_args(
            ["--pairs", *dirs, "--output", os.path.join(tmp, "filtered"), "--version", "b", "--device", "cpu",
             "--pool_size", str(args.pool_size), "--backend", args.backend]))
        total = time.perf_counter() - start
    t, m = result["timings"], result["manifest"]
    pairs = t["pairs"]
    rows = [("pool: sample + embed + index", t["pool_seconds"]), ("pairs: embed queries + passages", t["embed_seconds"]),
            ("pairs: search + rank", t["search_seconds"]), ("whole run (incl. model load, I/O)", total)]
    lines = ["# Consistency filter end to end (CPU)", "",
             f"Input: {label}: {pairs} pairs; pool {m['options']['pool_actual']} passages (all distinct passages, "
             f"since the corpus is smaller than the 1M default); all-MiniLM-L6-v2; backend {m['options']['backend']}; "
             f"{os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads, "
             f"Python {platform.python_version()}. One run of `python benchmarks/filter_end_to_end.py`.", "",
             "| part | seconds | share of the filtering work |", "|---|---:|---:|"]
    work = t["pool_seconds"] + t["embed_seconds"] + t["search_seconds"]
    for name, seconds in rows:
        share = f"{seconds / work:.1%}" if name != rows[-1][0] else ""
        lines.append(f"| {name} | {seconds:.2f} | {share} |")
    lines += ["", f"Filter throughput: {pairs / (t['embed_seconds'] + t['search_seconds']):.1f} pairs/s for embedding "
              f"+ search of the pairs ({pairs / t['search_seconds']:.0f} pairs/s for the search alone); "
              f"keep rate {json.dumps(m['keep_rate'])}.",
              "", "Embedding is nearly all of the cost on CPU; the search against the pool is a rounding error at "
              "this pool size (see filter_search.md for search at 10k-100k pools)."]
    with open(RESULTS, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
