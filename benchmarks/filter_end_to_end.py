"""Consistency filter end to end on CPU: pairs/s, the split between embedding and search, and what
embedding each distinct passage once saves.

Extracts pairs from the real samples in ../shared/data (or the generated demo dumps when absent),
then runs `filtering.filter_pairs` with all-MiniLM-L6-v2 twice in one process: first embedding every
pool passage, query and pair passage (reuse_vectors=False, the filter before issue 28), then
embedding each distinct text once and taking the pool's vector for a pair passage the pool holds
(the default). The corpus is smaller than the pool, so the pool holds every passage: the case where
the old filter embedded each passage twice. Reports where the time goes in each run and the ratio.
Wall seconds on a machine others share swing with their load, so each run's process CPU seconds
are reported too; --threads 1 keeps those close to the model's work (no threads spinning for cores
other processes hold), and --max_pairs keeps a run within a few minutes on 2 cores.
Writes benchmarks/results/filter_end_to_end.md.

    python benchmarks/filter_end_to_end.py [--backend faiss-cpu] [--max_pairs 300] [--threads 1]
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

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import torch  # noqa: E402

from filtering import filter_pairs  # noqa: E402
from model.data import read_version  # noqa: E402
from model.pairs_io import write_pair_version  # noqa: E402
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


def first_pairs(dirs, limit, tmp):
    """The first `limit` pairs of each extracted version, as new versions: a run that fits a few minutes."""
    kept = []
    for version_dir in dirs:
        _, shards = read_version(version_dir)
        table = pa.concat_tables([pq.read_table(shard.path) for shard in shards])
        target = os.path.join(tmp, "first", os.path.basename(os.path.dirname(version_dir)), "b")
        kept.append(str(write_pair_version(target, table.slice(0, limit).to_pylist())))
    return kept


RUNS = (("before", False), ("after", True))  # (version name, reuse_vectors)


def load_average() -> str:
    """Other work on the machine slows every row; the result records how busy it was."""
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "unknown"


def filter_once(dirs, out, version, args, reuse_vectors):
    """One whole filter run (model load, pool, pairs, outputs): (result, wall seconds, CPU seconds)."""
    start, cpu_start = time.perf_counter(), time.process_time()
    result = filter_pairs.run(filter_pairs.build_parser().parse_args(
        ["--pairs", *dirs, "--output", out, "--version", version, "--device", "cpu",
         "--pool_size", str(args.pool_size), "--backend", args.backend]), reuse_vectors=reuse_vectors)
    return result, time.perf_counter() - start, time.process_time() - cpu_start


def kept_decisions(version_dir):
    """pair_id -> keep over every ranks shard: the two runs must agree on each pair."""
    keep = {}
    for name in sorted(os.listdir(version_dir)):
        if name.startswith("ranks-"):
            table = pq.read_table(os.path.join(version_dir, name), columns=["pair_id", "keep"]).to_pydict()
            keep.update(zip(table["pair_id"], table["keep"]))
    return keep


def filter_work(t):
    return t["pool_seconds"] + t["embed_seconds"] + t["search_seconds"]


def model_texts(t, manifest):
    """Texts the model embedded in one run: the pool, then the pairs' queries and passages."""
    return manifest["options"]["pool_actual"] + t["queries_embedded"] + t["passages_embedded"]


def report(label, runs, load_before, load_after, command):
    """The Markdown result: both runs side by side, what was embedded, and the saving as a ratio."""
    (before, before_total, before_cpu), (after, after_total, after_cpu) = runs["before"], runs["after"]
    b, a, m = before["timings"], after["timings"], after["manifest"]
    same = kept_decisions(before["version_dir"]) == kept_decisions(after["version_dir"])
    rows = [("pool: sample + embed + index", "pool_seconds"), ("pairs: embed queries + passages", "embed_seconds"),
            ("pairs: search + rank", "search_seconds")]
    lines = ["# Consistency filter end to end (CPU)", "",
             f"Input: {label}: {a['pairs']} pairs; pool {m['options']['pool_actual']} passages (all distinct passages, "
             f"since the corpus is smaller than the 1M default); all-MiniLM-L6-v2; backend {m['options']['backend']}; "
             f"{os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads, "
             f"Python {platform.python_version()}. "
             f"Load average (1/5/15 min) before: {load_before}, after: {load_after}.",
             "", "Both runs in one process, `before` first: `before` embeds every pool passage, query and pair passage "
             "(`filter_pairs.run(args, reuse_vectors=False)`, the filter before issue 28); `after` embeds each "
             "distinct text once and takes the pool's vector for a pair passage whose exact text the pool holds "
             "(the default).",
             f"Command: `{command}`.", "",
             "| part | before s | after s | before / after |", "|---|---:|---:|---:|"]
    for name, key in rows:
        ratio = f"{b[key] / a[key]:.2f}x" if a[key] > 0 else ""
        lines.append(f"| {name} | {b[key]:.2f} | {a[key]:.2f} | {ratio} |")
    lines += [f"| **filter work (the three above)** | **{filter_work(b):.2f}** | **{filter_work(a):.2f}** | "
              f"**{filter_work(b) / filter_work(a):.2f}x** |",
              f"| whole run (incl. model load, I/O) | {before_total:.2f} | {after_total:.2f} | "
              f"{before_total / after_total:.2f}x |",
              f"| **whole run, process CPU seconds** | **{before_cpu:.2f}** | **{after_cpu:.2f}** | "
              f"**{before_cpu / after_cpu:.2f}x** |", "",
              "| texts through the model for the pairs | before | after |", "|---|---:|---:|",
              f"| passages embedded | {b['passages_embedded']} | {a['passages_embedded']} |",
              f"| passages reused from the pool | {b['passages_reused_from_pool']} | "
              f"{a['passages_reused_from_pool']} |",
              f"| passages repeating one of the same shard | {b['passages_repeated']} | {a['passages_repeated']} |",
              f"| queries embedded | {b['queries_embedded']} | {a['queries_embedded']} |",
              f"| queries repeating one of the same shard | {b['queries_repeated']} | {a['queries_repeated']} |", "",
              f"Saving: the whole run takes {before_cpu / after_cpu:.2f}x less CPU time ({before_cpu:.1f} s -> "
              f"{after_cpu:.1f} s); the filter's work {filter_work(b) / filter_work(a):.2f}x less wall time "
              f"({filter_work(b):.1f} s -> {filter_work(a):.1f} s); embedding the pairs alone "
              f"{b['embed_seconds'] / a['embed_seconds']:.2f}x less. Texts through the model, pool included: "
              f"{model_texts(b, m)} -> {model_texts(a, m)} ({model_texts(b, m) / model_texts(a, m):.2f}x fewer; "
              "the time saved is the pair passages' share of the model's work, more than a third when queries "
              "are shorter than passages). Wall seconds swing with the load of this shared machine (the pool, "
              "the same work in both runs, shows by how much); CPU seconds much less. "
              "Same keep decision for every pair in both runs: "
              f"{'yes' if same else 'NO'}; keep rate {json.dumps(m['keep_rate'])}.",
              "", f"Filter throughput after: {a['pairs'] / (a['embed_seconds'] + a['search_seconds']):.1f} pairs/s for "
              f"embedding + search of the pairs ({a['pairs'] / a['search_seconds']:.0f} pairs/s for the search alone). "
              "Embedding is nearly all of the cost on CPU; the search against the pool is a rounding error at "
              "this pool size (see filter_search.md for search at 10k-100k pools). When the pool is a small "
              "sample of a large corpus (1M of 1.3B), few pair passages are in it and the saving is small."]
    return lines


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="faiss-cpu")
    parser.add_argument("--pool_size", type=int, default=1_000_000)
    parser.add_argument("--max_pairs", type=int, default=None, help="only the first N pairs of each source")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    command = " ".join([".venv/bin/python benchmarks/filter_end_to_end.py"] + sys.argv[1:])
    load_before = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        dirs, label = extract(tmp)
        if args.max_pairs:
            dirs = first_pairs(dirs, args.max_pairs, tmp)
            label += f", the first {args.max_pairs} pairs of each source"
        out = os.path.join(tmp, "filtered")
        runs = {version: filter_once(dirs, out, version, args, reuse) for version, reuse in RUNS}
        lines = report(label, runs, load_before, load_average(), command)
    with open(RESULTS, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
