"""Consistency-filter pair versions into a new version: E5's noisy -> clean step, shard by shard.

    python -m filtering.filter_pairs --model runs/noisy/model \
        --pairs out/pairs/reddit/v1 out/pairs/stackexchange/v1 \
        --output out/pairs [--version v1] [--pool_size 1000000] [--k 2] [--shard 0/8]

Writes <output>/consistency/<version>/:
  filter-options.json                what defines the output (model fingerprint, k, pool size, inputs):
                                     claimed by the first worker; a run with other options is refused
  pool.parquet, pool-embeddings.npy   the random pool and its vectors (computed once, reused)
  pairs-JJJJJ-of-MMMMM.parquet       kept pairs of input shard J (same schema; one source per shard,
                                     named in the manifest, so training batches stay single-source)
  ranks-JJJJJ-of-MMMMM.parquet       every input pair's rank, score and k-th pool score
  manifest.json                      last, once every input shard is done; keep rates per source

Input shard J is done when its pairs and ranks files exist (written atomically), so a run that
stops resumes where it was, and `--shard i/N` splits the input shards over N processes or GPUs
(each loads the model and the pool once). Whoever finishes the last shard writes the manifest.
Two workers given the same shard write the same bytes (the outputs are deterministic), each file
atomically, so the version is the same whichever finishes last. Nothing is deleted (--overwrite)
before every check passed and the model loaded.
"""

from __future__ import annotations

import argparse
import collections
import datetime as _dt
import hashlib
import json
import logging
import os
import pathlib
import sys
import time
from typing import Dict, List, Sequence, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from filtering.consistency import E5_TOP_K, ConsistencyPool, consistency_filter
from filtering.index import BACKENDS, available_backends
from filtering.pool import Pool, PoolEntry, sample_pool
from filtering.text_hash import text_hashes
from model import atomic
from model.data import Shard, find_version_dirs, read_version
from model.embed import device_flag, embed_texts, load_encoder
from model.encoder import default_model_path
from schemas import manifest as M
from schemas import reasons as R
from schemas import versions as V
from schemas.cli import CommandParser, existing_path, model_folder, output_path, positive_int, version_name
from schemas.pairs import PAIR_SCHEMA

log = logging.getLogger("filtering")
DATASET = "consistency"
OPTIONS_NAME = "filter-options.json"
# What an --overwrite clears: every file this command writes, and temp files of killed writers.
OUTPUT_GLOBS = ("*.parquet", "*.npy", M.MANIFEST_NAME, OPTIONS_NAME, f".*{V.TMP_MARK}*")
RANK_SCHEMA = pa.schema([
    pa.field("pair_id", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("rank", pa.int64(), nullable=False),  # exact up to k; k+1 means "below the top k"
    pa.field("pair_score", pa.float32(), nullable=False),
    pa.field("kth_pool_score", pa.float32(), nullable=False),
    pa.field("keep", pa.bool_(), nullable=False),
], metadata={"record": "consistency_rank"})


def input_shards(pair_dirs: Sequence[str]) -> List[Shard]:
    """Every non-empty pair shard of the complete versions under pair_dirs, in a fixed order."""
    shards = {}
    for root in pair_dirs:
        for version in find_version_dirs(root):
            _, found = read_version(version)
            shards.update((s.path, s) for s in found)
    return [shards[path] for path in sorted(shards)]


def load_or_build_pool(out_dir: pathlib.Path, shards: Sequence[Shard], size: int, encoder,
                       batch_size: int) -> Tuple[Pool, np.ndarray]:
    """The pool sample and its passage vectors, cached in the version dir for resumes and peers."""
    pool_path, vec_path = out_dir / "pool.parquet", out_dir / "pool-embeddings.npy"
    if pool_path.is_file() and vec_path.is_file():
        table = pq.read_table(pool_path)
        pool = Pool([PoolEntry(**row) for row in table.to_pylist()])
        vectors = np.load(vec_path)
        if len(vectors) == len(pool):
            return pool, vectors
    pool = sample_pool([str(s.path) for s in shards], size)
    vectors = embed_texts(encoder, pool.texts, kind="passage", batch_size=batch_size)
    V.write_table(pool_path, pool.to_table())
    atomic.write_with(vec_path, lambda handle: np.save(handle, vectors))
    return pool, vectors


def filter_shard(path: pathlib.Path, encoder, pool: ConsistencyPool, k: int, batch_size: int):
    """(kept pairs table, ranks table, embed seconds, search seconds) for one input shard."""
    table = V.open_parquet(path).read().cast(PAIR_SCHEMA)
    queries = table.column("query").to_pylist()
    passages = table.column("passage").to_pylist()
    start = time.perf_counter()
    q_vecs = embed_texts(encoder, queries, kind="query", batch_size=batch_size)
    p_vecs = embed_texts(encoder, passages, kind="passage", batch_size=batch_size)
    embedded = time.perf_counter()
    result = consistency_filter(q_vecs, p_vecs, text_hashes(passages), pool, k=k)
    searched = time.perf_counter()
    ranks = pa.table({
        "pair_id": table.column("pair_id"), "source": table.column("source"),
        "rank": pa.array(result.rank, pa.int64()), "pair_score": pa.array(result.pair_score, pa.float32()),
        "kth_pool_score": pa.array(result.kth_pool_score, pa.float32()), "keep": pa.array(result.keep),
    }, schema=RANK_SCHEMA)
    return table.filter(pa.array(result.keep)), ranks, embedded - start, searched - embedded


def write_manifest_if_complete(out_dir: pathlib.Path, shards: Sequence[Shard], version: str,
                               options: Dict) -> Dict | None:
    """Once every shard's outputs exist: count per source and write manifest.json (last)."""
    total = len(shards)
    names = [(V.shard_name("pairs", j, total), V.shard_name("ranks", j, total)) for j in range(total)]
    if not all((out_dir / p).is_file() and (out_dir / r).is_file() for p, r in names):
        return None
    seen, kept = collections.Counter(), collections.Counter()
    for _, ranks_name in names:
        ranks = pq.read_table(out_dir / ranks_name, columns=["source", "keep"]).to_pydict()
        for source, keep in zip(ranks["source"], ranks["keep"]):
            seen[source] += 1
            kept[source] += keep
    pair_shards = [{"path": p, "rows": pq.ParquetFile(out_dir / p).metadata.num_rows, "source": shard.source}
                   for (p, _), shard in zip(names, shards)]
    n_in, n_kept = sum(seen.values()), sum(kept.values())
    manifest = M.build_manifest(
        dataset=DATASET, version=version, code_version=M.code_version(),
        inputs=[{"path": str(s.path), "bytes": s.size, "source": s.source} for s in shards],
        records_read=n_in, records_used=n_kept, records_dropped={R.DROP_INCONSISTENT: n_in - n_kept},
        records_rejected={}, pairs=n_kept, shards=pair_shards, reject_shards=[], options=options,
        extra={"keep_rate": {s: round(kept[s] / seen[s], 6) for s in sorted(seen)},
               "pairs_in": dict(sorted(seen.items())), "pairs_kept": dict(sorted(kept.items())),
               "rank_shards": [r for _, r in names]})
    V.write_manifest(out_dir, manifest)
    return manifest


def parse_shard(spec: str) -> Tuple[int, int]:
    index, sep, count = spec.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i, n = -1, 0
    if not sep or not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"expected i/N with 0 <= i < N, got {spec!r}")
    return i, n


def output_dir(args) -> pathlib.Path:
    version = args.version or _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return pathlib.Path(args.output) / DATASET / version


def model_fingerprint(folder: pathlib.Path) -> str:
    """blake2b of every file's relative name and bytes: the same model wherever it is mounted."""
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def defining_options(args, shards: Sequence[Shard]) -> Dict:
    """What decides the output's bytes: two runs that differ here must not write one version."""
    model = pathlib.Path(args.model) if args.model else default_model_path()
    return {"model_fingerprint": model_fingerprint(model), "model": str(model), "k": args.k,
            "pool_size": args.pool_size, "precision": args.precision,
            "inputs": [{"path": absolute(s.path), "rows": s.rows} for s in shards]}


def absolute(path) -> str:
    """A local path made absolute (workers may start in other folders); URIs as they are."""
    return str(path) if V.is_uri(path) else os.path.abspath(path)


# The options that decide a version's bytes, and the flag that sets each.
DEFINING_FLAGS = {"model_fingerprint": "--model", "k": "--k", "pool_size": "--pool_size",
                  "precision": "--precision", "inputs": "--pairs"}


def options_conflict(recorded: Dict | None, options: Dict) -> str | None:
    """One line naming what differs from the options the version was started with, or None."""
    if recorded is None:
        return None
    changed = [key for key in DEFINING_FLAGS if recorded.get(key) != options[key]]
    if not changed:
        return None
    described = [DEFINING_FLAGS[key] if key in ("model_fingerprint", "inputs")
                 else f"{DEFINING_FLAGS[key]} {recorded.get(key)} (this run: {options[key]})" for key in changed]
    return (f"this version was started with another {', '.join(described)}; its outputs would mix two "
            "filters: use another --version, or --overwrite to replace it")


def read_recorded_options(out_dir: pathlib.Path) -> Dict | None:
    path = out_dir / OPTIONS_NAME
    return json.loads(path.read_bytes()) if path.is_file() else None


def refuse_other_options(out_dir: pathlib.Path, options: Dict) -> None:
    conflict = options_conflict(read_recorded_options(out_dir), options)
    if conflict:
        raise SystemExit(f"{out_dir}: {conflict}")


def claim_options(out_dir: pathlib.Path, options: Dict) -> None:
    """Record the options with the version (the first worker's, atomically); refuse other options."""
    data = (json.dumps(options, indent=2, sort_keys=True) + "\n").encode()
    if not atomic.create_exclusively(out_dir / OPTIONS_NAME, data):
        refuse_other_options(out_dir, options)


def clear_outputs(out_dir: pathlib.Path) -> None:
    """--overwrite: the manifest first (the version reads as incomplete from then on), then the rest."""
    atomic.remove_quietly(out_dir / M.MANIFEST_NAME)
    for pattern in OUTPUT_GLOBS:
        for stale in out_dir.glob(pattern):
            atomic.remove_quietly(stale)


def run(args) -> Dict:
    out_dir = output_dir(args)
    if V.is_complete(out_dir) and not args.overwrite:
        raise SystemExit(f"{out_dir} is a complete version; pass --overwrite to replace it")
    shards = input_shards(args.pairs)
    if not shards:
        raise SystemExit("no pair shards found under --pairs")
    options = defining_options(args, shards)
    if not args.overwrite:
        refuse_other_options(out_dir, options)
    worker, workers = args.shard
    encoder = load_encoder(args.model, args.device)
    if args.overwrite:
        clear_outputs(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    claim_options(out_dir, options)
    t0 = time.perf_counter()
    pool_sample, pool_vectors = load_or_build_pool(out_dir, shards, args.pool_size, encoder, args.batch_size)
    pool = ConsistencyPool.build(pool_vectors, pool_sample.hashes, backend=args.backend, precision=args.precision)
    timings = {"pool_seconds": time.perf_counter() - t0, "embed_seconds": 0.0, "search_seconds": 0.0, "pairs": 0}
    total = len(shards)
    for j, shard in enumerate(shards):
        if j % workers != worker:
            continue
        pairs_path = out_dir / V.shard_name("pairs", j, total)
        ranks_path = out_dir / V.shard_name("ranks", j, total)
        if pairs_path.is_file() and ranks_path.is_file():
            log.info("shard %d/%d already done", j, total)
            continue
        kept, ranks, embed_s, search_s = filter_shard(shard.path, encoder, pool, args.k, args.batch_size)
        V.write_table(ranks_path, ranks)
        V.write_table(pairs_path, kept)
        timings["embed_seconds"] += embed_s
        timings["search_seconds"] += search_s
        timings["pairs"] += ranks.num_rows
        log.info("shard %d/%d: kept %d of %d", j, total, kept.num_rows, ranks.num_rows)
    summary = {"model": options["model"], "model_fingerprint": options["model_fingerprint"], "k": args.k,
               "pool_size": args.pool_size, "pool_actual": len(pool), "backend": pool.index.name,
               "precision": args.precision}
    manifest = write_manifest_if_complete(out_dir, shards, out_dir.name, summary)
    return {"version_dir": str(out_dir), "complete": manifest is not None, "timings": timings,
            "manifest": manifest}


def build_parser() -> CommandParser:
    parser = CommandParser(prog="python -m filtering.filter_pairs", description=__doc__)
    parser.add_argument("--model", default=None, type=model_folder, help="encoder dir (default: bundled all-MiniLM-L6-v2)")
    parser.add_argument("--pairs", nargs="+", required=True, type=existing_path,
                        help="pair version dirs or roots holding them")
    parser.add_argument("--output", required=True, type=output_path)
    parser.add_argument("--version", default=None, type=version_name,
                        help="version folder name (default: UTC timestamp)")
    parser.add_argument("--pool_size", type=positive_int, default=1_000_000)
    parser.add_argument("--k", type=positive_int, default=E5_TOP_K)
    parser.add_argument("--shard", type=parse_shard, default=(0, 1), help="i/N: this worker's input shards")
    parser.add_argument("--batch_size", type=positive_int, default=256)
    parser.add_argument("--device", default="auto", type=device_flag)
    parser.add_argument("--backend", default="auto", choices=("auto",) + BACKENDS)
    parser.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "bf16"])
    parser.add_argument("--overwrite", action="store_true")
    return parser


def check_arguments(parser: CommandParser, args) -> None:
    """What argparse types cannot see, checked before the output folder exists or the model loads."""
    try:
        if not input_shards(args.pairs):
            parser.error("--pairs: no pair shards found")
    except (OSError, ValueError, V.VersionError) as err:
        parser.error(f"--pairs: {err}")
    usable = available_backends()
    backend = usable[0] if args.backend == "auto" else args.backend
    if backend not in usable:
        parser.error(f"--backend {backend} is not available here (available: {', '.join(usable)})")
    if backend == "faiss-gpu" and args.precision == "bf16":
        parser.error("--precision bf16: the faiss-gpu index stores fp32 or fp16")
    check_version_options(parser, args)


def check_version_options(parser: CommandParser, args) -> None:
    """A version started with other options is refused here, before the model loads."""
    out_dir = output_dir(args)
    if args.overwrite or not args.version or not (out_dir / OPTIONS_NAME).is_file():
        return
    conflict = options_conflict(read_recorded_options(out_dir), defining_options(args, input_shards(args.pairs)))
    if conflict:
        parser.error(f"--version {args.version}: {conflict}")


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    check_arguments(parser, args)
    result = run(args)
    print(json.dumps({k: v for k, v in result.items() if k != "manifest"}
                     | {"keep_rate": (result["manifest"] or {}).get("keep_rate")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
