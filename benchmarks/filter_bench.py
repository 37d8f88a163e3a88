"""How fast is the search half of the consistency filter, per backend and pool size?

Times the pool index build and `consistency_filter` (pair scores, the (k+1)-deep search, the
duplicate exclusion and the ranks) on random unit vectors: the search is brute force, so its cost
depends on the sizes only, not on the data. Embedding time is not included (model/ adds it).

    .venv/bin/python benchmarks/filter_bench.py                 # 10k and 100k pools, 10k pairs
    .venv/bin/python benchmarks/filter_bench.py --pool_sizes 1000000 --backends faiss-cpu:fp32

Prints a Markdown table and writes it to benchmarks/results/filter_search.md.
"""

import argparse
import datetime as dt
import os
import pathlib
import platform
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from filtering.consistency import E5_TOP_K, ConsistencyPool, consistency_filter  # noqa: E402
from filtering.index import available_backends  # noqa: E402

DEFAULT_CASES = (
    "faiss-cpu:fp32",
    "faiss-cpu:fp16",
    "torch-cpu:fp32",
    "torch-cpu:bf16",
    "numpy:fp32",
    "faiss-gpu:fp32",
    "faiss-gpu:fp16",
    "torch-cuda:fp32",
    "torch-cuda:fp16",
)


def unit_vectors(rng, n, dim):
    x = rng.standard_normal((n, dim), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    """Other work on the machine slows every row; the table records how busy it was."""
    try:
        return " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        return "unknown"


def versions() -> str:
    found = [f"numpy {np.__version__}"]
    for name in ("faiss", "torch"):
        try:
            found.append(f"{name} {__import__(name).__version__}")
        except ImportError:
            pass
    return ", ".join(found)


def bench_case(backend, precision, pool_vectors, pool_hashes, queries, passages, pair_hashes, k):
    start = time.perf_counter()
    pool = ConsistencyPool.build(pool_vectors, pool_hashes, backend=backend, precision=precision)
    build_s = time.perf_counter() - start
    consistency_filter(queries[:64], passages[:64], pair_hashes[:64], pool, k=k)  # warm-up
    start = time.perf_counter()
    result = consistency_filter(queries, passages, pair_hashes, pool, k=k)
    search_s = time.perf_counter() - start
    return build_s, search_s, float(result.keep.mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pool_sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--k", type=int, default=E5_TOP_K)
    parser.add_argument(
        "--backends",
        nargs="+",
        default=list(DEFAULT_CASES),
        help="backend:precision; unavailable backends are skipped",
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "filter_search.md"))
    args = parser.parse_args(argv)

    available = set(available_backends())
    cases = [c.split(":") for c in args.backends if c.split(":")[0] in available]
    rng = np.random.default_rng(0)
    queries = unit_vectors(rng, args.pairs, args.dim)
    # Passages near their queries, as after training: most pairs rank high.
    passages = queries + 4.0 * unit_vectors(rng, args.pairs, args.dim)
    passages /= np.linalg.norm(passages, axis=1, keepdims=True)
    pair_hashes = rng.integers(0, 2**63, size=args.pairs).astype(np.uint64)

    header = "| backend | precision | pool | pairs | build s | search s | pairs/s | kept |"
    rows = [header, "|---|---|---:|---:|---:|---:|---:|---:|"]
    load_before = load_average()
    print(header, flush=True)
    for pool_size in args.pool_sizes:
        pool_vectors = unit_vectors(rng, pool_size, args.dim)
        pool_hashes = rng.integers(0, 2**63, size=pool_size).astype(np.uint64)
        pool_hashes[: args.pairs // 10] = pair_hashes[: args.pairs // 10]  # some passages in pool
        for backend, precision in cases:
            build_s, search_s, kept = bench_case(
                backend, precision, pool_vectors, pool_hashes,
                queries, passages, pair_hashes, args.k,
            )
            row = (
                f"| {backend} | {precision} | {pool_size:,} | {args.pairs:,} | {build_s:.2f} "
                f"| {search_s:.2f} | {args.pairs / search_s:,.0f} | {kept:.3f} |"
            )
            rows.append(row)
            print(row, flush=True)

    threads = os.environ.get("OMP_NUM_THREADS", "default")
    text = "\n".join(
        [
            "# Consistency filter: search throughput",
            "",
            f"Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC} by "
            "`benchmarks/filter_bench.py`: random unit vectors, dim "
            f"{args.dim}, k={args.k} (searches k+1 deep: deduplicated pool), one run after a warm-up.",
            f"Machine: {cpu_name()}, {os.cpu_count()} cores, OMP_NUM_THREADS={threads}; "
            f"{versions()}. Load average (1/5/15 min) before: {load_before}, "
            f"after: {load_average()}.",
            "`search s` is consistency_filter end to end (pair scores, search, exclusion, ranks);",
            "embedding time is not included. Brute force: time grows with pool size x pairs.",
            "",
            *rows,
            "",
        ]
    )
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
