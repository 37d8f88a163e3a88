"""Consistency-filter pair versions into a new version: E5's noisy -> clean step, shard by shard.

    python -m filtering.filter_pairs --model runs/noisy/model \
        --pairs out/pairs/reddit/v1 out/pairs/stackexchange/v1 \
        --output out/pairs [--version v1] [--pool_size 1000000] [--k 2] [--shard 0/8]

Writes <output>/consistency/<version>/:
  filter-options.json                what defines the output (model fingerprint, k, pool size, precision,
                                     model dtype, inputs): recorded by the first worker; a run with
                                     other options is refused (or, with --overwrite, replaces them)
  pool.parquet, pool-embeddings.npy   the random pool and its vectors, built once by one worker while
  pool.json                          the others wait (the claim .pool.claim); pool.json, last, says
                                     for which options they were built
  pairs-JJJJJ-of-MMMMM.parquet       kept pairs of input shard J (same schema; one source per shard,
                                     named in the manifest, so training batches stay single-source)
  ranks-JJJJJ-of-MMMMM.parquet       every input pair's rank, score and k-th pool score
  manifest.json                      last, once every input shard is done; keep rates per source

Input shard J is done when its pairs and ranks files exist (written atomically), so a run that
stops resumes where it was, and `--shard i/N` splits the input shards over N processes (each loads
the model and the pool once; --devices gives one process several GPUs). Whoever finishes the last
shard writes the manifest. The outputs are a function of the recorded options, so two workers given
the same shard write the same bytes, each file atomically under a temp name that names its writer.

Several workers at once: reading, clearing and recording the options is one step per worker at a
time (a lock on the version folder), nothing is reused before the recorded options equal this run's,
and --overwrite clears only what other options wrote: a peer's finished shards of the same options
are what this worker would write, so they stay. Nothing is deleted before every check passed and the
model loaded; a temp file is removed only when its writer is known to be gone.
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
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import schemas.manifest
from filtering.consistency import E5_TOP_K, ConsistencyPool, consistency_filter
from filtering.index import BACKENDS, available_backends
from filtering.pool import Pool, PoolEntry, sample_pool
from filtering.text_hash import text_hashes
from model import atomic, run_lock
from model.data import Shard, choose_versions, read_version
from model.embed import (Embedder, add_device_flags, check_device_flags, embedder_from_args, resolve_devices,
                         resolve_model_dtype)
from model.encoder import default_model_path
from model.saving import folder_fingerprint
from schemas import reasons, versions
from schemas.cli import CommandParser, existing_path, model_folder, output_path, positive_int, version_name
from schemas.dataset_card import CARD_NAME
from schemas.pairs import PAIR_SCHEMA

log = logging.getLogger("filtering")
DATASET = "consistency"
OPTIONS_NAME = "filter-options.json"
POOL_META_NAME = "pool.json"
POOL_CLAIM_NAME = ".pool.claim"
# What this command writes (besides temp files): what an --overwrite of other options clears.
OUTPUT_GLOBS = ("*.parquet", "*.npy", POOL_META_NAME, schemas.manifest.MANIFEST_NAME, OPTIONS_NAME, CARD_NAME)
# How often a worker waiting for the pool looks again, and says that it waits (seconds).
POOL_POLL_SECONDS = 0.5
POOL_WAIT_LOG_SECONDS = 60.0
RANK_SCHEMA = pa.schema([
    pa.field("pair_id", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("rank", pa.int64(), nullable=False),  # exact up to k; k+1 means "below the top k"
    pa.field("pair_score", pa.float32(), nullable=False),
    pa.field("kth_pool_score", pa.float32(), nullable=False),
    pa.field("keep", pa.bool_(), nullable=False),
], metadata={"record": "consistency_rank"})


def input_shards(pair_dirs: Sequence[str]) -> List[Shard]:
    """Every non-empty pair shard of the versions model.data.choose_versions picks, in a fixed order."""
    shards = {}
    for version in choose_versions(pair_dirs):
        _, found = read_version(version)
        shards.update((str(s.path), s) for s in found)
    return [shards[path] for path in sorted(shards)]


def write_output(path: pathlib.Path, table: pa.Table) -> None:
    """One Parquet output, atomically, under a temp name naming this worker (model.atomic)."""
    data = versions.parquet_bytes(table)
    atomic.write_with(path, lambda handle: handle.write(data))


def options_digest(options: Dict) -> str:
    return hashlib.blake2b(json.dumps(options, sort_keys=True).encode(), digest_size=16).hexdigest()


def read_ready_pool(out_dir: pathlib.Path, options: Dict, dim: int) -> Tuple[Pool, np.ndarray] | None:
    """The pool and its vectors when pool.json says they were built for these options and the
    files agree with it; None otherwise (not built yet, or built for something else)."""
    try:
        meta = json.loads((out_dir / POOL_META_NAME).read_bytes())
        if meta.get("options_digest") != options_digest(options):
            return None
        table = pq.read_table(out_dir / "pool.parquet")
        vectors = np.load(out_dir / "pool-embeddings.npy")
    except (OSError, ValueError):
        return None
    if table.num_rows != meta.get("rows") or vectors.shape != (table.num_rows, dim):
        return None
    return Pool([PoolEntry(**row) for row in table.to_pylist()]), vectors


def corpus_pool(shards: Sequence[Shard], size: int) -> Pool | None:
    """The corpus job's pool.parquet (pipelines/ccpairs.py), when the input is one corpus version whose
    pool holds this sample: its `size` smallest hashes, or all of it when the corpus has fewer distinct
    passages than the pool the job drew. The same sample sample_pool draws (same hash, same order;
    tests/pipelines/test_ccpairs.py), without reading every passage of the corpus again."""
    folders = {str(s.path).rsplit("/", 1)[0] for s in shards}
    if len(folders) != 1:
        return None
    folder = folders.pop()
    try:
        manifest = versions.read_manifest(folder)
    except (OSError, versions.VersionError):
        return None
    drawn, made_for = manifest.get("pool") or {}, (manifest.get("options") or {}).get("pool_size")
    rows = drawn.get("rows")
    if not drawn.get("path") or not isinstance(rows, int) or not isinstance(made_for, int):
        return None
    if rows < size and rows >= made_for:  # the job drew fewer than asked for here, not all it had
        return None
    table = versions.open_parquet(versions.join(folder, drawn["path"])).read()
    entries = sorted(PoolEntry(**row) for row in table.to_pylist())
    log.info("using the corpus job's pool: %s (%d of its %d passages)", versions.join(folder, drawn["path"]),
             min(size, len(entries)), len(entries))
    return Pool(tuple(entries[:size]))


def build_pool(out_dir: pathlib.Path, shards: Sequence[Shard], size: int, embedder: Embedder,
               batch_size: int, options: Dict) -> Tuple[Pool, np.ndarray]:
    """Sample (or take the corpus job's) and embed the pool, then write pool.parquet, its vectors and,
    last, pool.json."""
    started = time.perf_counter()
    pool = corpus_pool(shards, size) or sample_pool([str(s.path) for s in shards], size)
    vectors = embedder.embed(pool.texts, kind="passage", batch_size=batch_size, progress=True)
    write_output(out_dir / "pool.parquet", pool.to_table())
    atomic.write_with(out_dir / "pool-embeddings.npy", lambda handle: np.save(handle, vectors))
    meta = {"options_digest": options_digest(options), "rows": len(pool), "dim": int(vectors.shape[1])}
    atomic.write_with(out_dir / POOL_META_NAME, lambda handle: handle.write(json.dumps(meta).encode()))
    log.info("built the pool: %d passages in %.1f s (pid %d)", len(pool), time.perf_counter() - started, os.getpid())
    return pool, vectors


def obtain_pool(out_dir: pathlib.Path, shards: Sequence[Shard], size: int, embedder: Embedder,
                batch_size: int, options: Dict) -> Tuple[Pool, np.ndarray]:
    """The pool of this version: built once, by whichever worker claims it first; the others wait
    for pool.json and load. A claim left by a worker that died (same host) is taken over."""
    waiting_since = None
    while True:
        ready = read_ready_pool(out_dir, options, embedder.dim)
        if ready is not None:
            return ready
        try:
            claim = run_lock.claim(out_dir / POOL_CLAIM_NAME)
        except run_lock.LockHeld as held:
            now = time.monotonic()
            if waiting_since is None or now - waiting_since >= POOL_WAIT_LOG_SECONDS:
                who = f"pid {held.holder.pid} on {held.holder.host}" if held.holder else "another worker"
                log.info("waiting for the pool, built by %s (if that worker is gone, delete %s)",
                         who, out_dir / POOL_CLAIM_NAME)
                waiting_since = now
            time.sleep(POOL_POLL_SECONDS)
            continue
        try:
            return read_ready_pool(out_dir, options, embedder.dim) or build_pool(
                out_dir, shards, size, embedder, batch_size, options)
        finally:
            claim.release()


class KnownVectors:
    """Passage vectors already computed (the pool's), found by exact text.

    When the pool holds the corpus's own passages (a small corpus, the demo), embedding them again
    for the pairs was about half of the filter's time. Exact text, not the normalised text hash: a
    cased model gives texts that differ only in case different vectors. Built once per process.
    """

    def __init__(self, texts: Sequence[str], vectors: np.ndarray):
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts for {len(vectors)} vectors")
        self.vectors = vectors
        self.rows: Dict[str, int] = {}
        for row, text in enumerate(texts):
            self.rows.setdefault(text, row)

    def __len__(self) -> int:
        return len(self.rows)


class EmbedCounts(NamedTuple):
    """What embed_once did with a list of texts: each text is embedded, reused or repeated."""

    embedded: int = 0  # distinct texts the model embedded
    reused: int = 0  # distinct texts whose vector came from KnownVectors (the pool)
    repeated: int = 0  # texts that repeat an earlier text of the same list

    def __add__(self, other: "EmbedCounts") -> "EmbedCounts":
        return EmbedCounts(*(mine + theirs for mine, theirs in zip(self, other)))


def embed_once(embedder: Embedder, texts: Sequence[str], kind: str, batch_size: int,
               known: Optional[KnownVectors] = None) -> Tuple[np.ndarray, EmbedCounts]:
    """Vectors as embedder.embed(texts) gives them, with each distinct text embedded once and the
    texts found in `known` copied from it: the model's time goes only to texts it has not seen."""
    slot: Dict[str, int] = {}
    distinct: List[str] = []
    where = np.empty(len(texts), np.int64)
    for i, text in enumerate(texts):
        if text not in slot:
            slot[text] = len(distinct)
            distinct.append(text)
        where[i] = slot[text]
    known_rows = [known.rows.get(text) for text in distinct] if known is not None else [None] * len(distinct)
    missing = [j for j, row in enumerate(known_rows) if row is None]
    found = [j for j, row in enumerate(known_rows) if row is not None]
    vectors = np.empty((len(distinct), embedder.dim), np.float32)
    if missing:
        vectors[missing] = embedder.embed([distinct[j] for j in missing], kind=kind, batch_size=batch_size,
                                          progress=True)
    if found:
        vectors[found] = known.vectors[[known_rows[j] for j in found]]
    return vectors[where], EmbedCounts(len(missing), len(found), len(texts) - len(distinct))


def embed_everything(embedder: Embedder, texts: Sequence[str], kind: str,
                     batch_size: int) -> Tuple[np.ndarray, EmbedCounts]:
    """Every text through the model, repeats and pool passages included: the path before embed_once,
    kept so that benchmarks measure both in one process."""
    return embedder.embed(texts, kind=kind, batch_size=batch_size), EmbedCounts(embedded=len(texts))


class ShardResult(NamedTuple):
    """One input shard filtered: its outputs, where the time went, and what the model embedded."""

    kept: pa.Table
    ranks: pa.Table
    embed_seconds: float
    search_seconds: float
    queries: EmbedCounts
    passages: EmbedCounts


def filter_shard(path: pathlib.Path, embedder: Embedder, pool: ConsistencyPool, k: int, batch_size: int,
                 known: Optional[KnownVectors] = None, reuse_vectors: bool = True) -> ShardResult:
    """Kept pairs and ranks of one input shard, with where the time went and what was embedded.

    reuse_vectors=False embeds every query and passage as the filter once did (benchmarks compare).
    """
    table = versions.open_parquet(path).read().cast(PAIR_SCHEMA)
    queries = table.column("query").to_pylist()
    passages = table.column("passage").to_pylist()
    start = time.perf_counter()
    if reuse_vectors:
        q_vecs, q_counts = embed_once(embedder, queries, "query", batch_size)  # queries are never pool passages
        p_vecs, p_counts = embed_once(embedder, passages, "passage", batch_size, known)
    else:
        q_vecs, q_counts = embed_everything(embedder, queries, "query", batch_size)
        p_vecs, p_counts = embed_everything(embedder, passages, "passage", batch_size)
    embedded = time.perf_counter()
    result = consistency_filter(q_vecs, p_vecs, text_hashes(passages), pool, k=k)
    searched = time.perf_counter()
    ranks = pa.table({
        "pair_id": table.column("pair_id"), "source": table.column("source"),
        "rank": pa.array(result.rank, pa.int64()), "pair_score": pa.array(result.pair_score, pa.float32()),
        "kth_pool_score": pa.array(result.kth_pool_score, pa.float32()), "keep": pa.array(result.keep),
    }, schema=RANK_SCHEMA)
    return ShardResult(table.filter(pa.array(result.keep)), ranks, embedded - start, searched - embedded,
                       q_counts, p_counts)


def write_manifest_if_complete(out_dir: pathlib.Path, shards: Sequence[Shard], version: str,
                               options: Dict) -> Dict | None:
    """Once every shard's outputs exist: count per source and write manifest.json (last)."""
    total = len(shards)
    names = [(versions.shard_name("pairs", j, total), versions.shard_name("ranks", j, total)) for j in range(total)]
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
    manifest = schemas.manifest.build_manifest(
        dataset=DATASET, version=version, code_version=schemas.manifest.code_version(),
        inputs=[{"path": str(s.path), "bytes": s.size, "source": s.source} for s in shards],
        records_read=n_in, records_used=n_kept, records_dropped={reasons.DROP_INCONSISTENT: n_in - n_kept},
        records_rejected={}, pairs=n_kept, shards=pair_shards, reject_shards=[], options=options,
        extra={"keep_rate": {s: round(kept[s] / seen[s], 6) for s in sorted(seen)},
               "pairs_in": dict(sorted(seen.items())), "pairs_kept": dict(sorted(kept.items())),
               "rank_shards": [r for _, r in names]})
    from schemas import dataset_card

    dataset_card.write_card(out_dir, manifest)  # README.md, a Hugging Face dataset card; the manifest stays last
    versions.write_manifest(out_dir, manifest)
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


model_fingerprint = folder_fingerprint  # kept name: the filter's options record it


def defining_options(args, shards: Sequence[Shard]) -> Dict:
    """What decides the output's bytes: two runs that differ here must not write one version."""
    model = pathlib.Path(args.model) if args.model else default_model_path()
    device = resolve_devices(args.device, args.devices)[0]
    return {"model_fingerprint": folder_fingerprint(model), "model": str(model), "k": args.k,
            "pool_size": args.pool_size, "precision": args.precision,
            "model_dtype": str(resolve_model_dtype(args.model_dtype, device)).replace("torch.", ""),
            "inputs": [{"path": absolute(s.path), "rows": s.rows} for s in shards]}


def absolute(path) -> str:
    """A local path made absolute (workers may start in other folders); URIs as they are."""
    return str(path) if versions.is_uri(path) else os.path.abspath(path)


# The options that decide a version's bytes, and the flag that sets each.
DEFINING_FLAGS = {"model_fingerprint": "--model", "k": "--k", "pool_size": "--pool_size",
                  "precision": "--precision", "model_dtype": "--model_dtype", "inputs": "--pairs"}


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


def settle_options(out_dir: pathlib.Path, options: Dict, overwrite: bool) -> None:
    """Make the version this run's before anything in it is reused, one worker at a time.

    Recorded options equal to this run's: everything there is what this run would write; keep it.
    Other options, or outputs without recorded options: refused, or with --overwrite cleared (the
    manifest first) and this run's options recorded. Temp files of writers that died are removed.
    """
    with run_lock.serialised(out_dir):
        recorded = read_recorded_options(out_dir)
        conflict = options_conflict(recorded, options)
        if recorded is None and has_outputs(out_dir):
            conflict = "it holds outputs but no record of the options they were made with"
        if conflict and not overwrite:
            raise SystemExit(f"{out_dir}: {conflict}")
        if conflict:
            log.warning("--overwrite: clearing %s (%s)", out_dir, conflict)
            clear_outputs(out_dir)
        elif overwrite and recorded is not None:
            log.info("--overwrite: %s was made with the same options; its outputs are what this run writes, "
                     "so they are kept (delete the folder to recompute them)", out_dir)
        if conflict or recorded is None:
            data = (json.dumps(options, indent=2, sort_keys=True) + "\n").encode()
            atomic.write_with(out_dir / OPTIONS_NAME, lambda handle: handle.write(data))
        remove_dead_writers_files(out_dir)


def check_options_unchanged(out_dir: pathlib.Path, options: Dict) -> None:
    """Before each shard: stop if another run has since replaced the version's options (--overwrite)."""
    if options_conflict(read_recorded_options(out_dir), options) or not (out_dir / OPTIONS_NAME).is_file():
        raise SystemExit(f"{out_dir}: another run replaced this version's options while this one ran; stopping")


def has_outputs(out_dir: pathlib.Path) -> bool:
    return any(path.name != OPTIONS_NAME for pattern in OUTPUT_GLOBS for path in out_dir.glob(pattern))


def clear_outputs(out_dir: pathlib.Path) -> None:
    """Another filter's outputs: the manifest first (the version reads as incomplete from then on),
    then the rest, and temp files whose writer is gone or unknown (an older temp name)."""
    atomic.remove_quietly(out_dir / schemas.manifest.MANIFEST_NAME)
    for pattern in OUTPUT_GLOBS:
        for stale in out_dir.glob(pattern):
            atomic.remove_quietly(stale)
    for leftover in out_dir.glob(f".*{versions.TMP_MARK}*"):
        if atomic.temp_writer_gone(leftover.name) or not atomic.names_writer(leftover.name):
            atomic.remove_quietly(leftover)


def remove_dead_writers_files(out_dir: pathlib.Path) -> None:
    """Temp files of workers known to be gone (same host, pid not alive): never a live peer's."""
    for leftover in out_dir.glob(f".*{versions.TMP_MARK}*"):
        if atomic.temp_writer_gone(leftover.name):
            atomic.remove_quietly(leftover)


def run(args, reuse_vectors: bool = True) -> Dict:
    """Filter this worker's shards of args.pairs into the version; the manifest when it is complete.

    reuse_vectors=False embeds every pair passage again even when the pool holds it (and repeated
    texts once per repeat), as the filter once did: for benchmarks that measure the saving.
    """
    out_dir = output_dir(args)
    if versions.is_complete(out_dir) and not args.overwrite:
        raise SystemExit(f"{out_dir} is a complete version; pass --overwrite to replace it")
    shards = input_shards(args.pairs)
    if not shards:
        raise SystemExit("no pair shards found under --pairs")
    options = defining_options(args, shards)
    if not args.overwrite:
        refuse_other_options(out_dir, options)
    worker, workers = args.shard
    embedder = embedder_from_args(args)  # loaded before anything is deleted: a model that fails deletes nothing
    out_dir.mkdir(parents=True, exist_ok=True)
    settle_options(out_dir, options, args.overwrite)
    t0 = time.perf_counter()
    pool_sample, pool_vectors = obtain_pool(out_dir, shards, args.pool_size, embedder, args.batch_size, options)
    pool = ConsistencyPool.build(pool_vectors, pool_sample.hashes, backend=args.backend, precision=args.precision)
    known = KnownVectors(pool_sample.texts, pool_vectors) if reuse_vectors else None
    timings = {"pool_seconds": time.perf_counter() - t0, "embed_seconds": 0.0, "search_seconds": 0.0, "pairs": 0}
    queries, passages = EmbedCounts(), EmbedCounts()
    total = len(shards)
    for j, shard in enumerate(shards):
        if j % workers != worker:
            continue
        pairs_path = out_dir / versions.shard_name("pairs", j, total)
        ranks_path = out_dir / versions.shard_name("ranks", j, total)
        if pairs_path.is_file() and ranks_path.is_file():
            log.info("shard %d/%d already done", j, total)
            continue
        done = filter_shard(shard.path, embedder, pool, args.k, args.batch_size, known, reuse_vectors)
        check_options_unchanged(out_dir, options)
        write_output(ranks_path, done.ranks)
        write_output(pairs_path, done.kept)
        timings["embed_seconds"] += done.embed_seconds
        timings["search_seconds"] += done.search_seconds
        timings["pairs"] += done.ranks.num_rows
        queries, passages = queries + done.queries, passages + done.passages
        log.info("shard %d/%d: kept %d of %d; passages embedded %d, reused from the pool %d, repeated %d",
                 j, total, done.kept.num_rows, done.ranks.num_rows, *done.passages)
    timings.update(embed_counts(queries, passages))
    summary = {"model": options["model"], "model_fingerprint": options["model_fingerprint"], "k": args.k,
               "pool_size": args.pool_size, "pool_actual": len(pool), "backend": pool.index.name,
               "precision": args.precision, "model_dtype": options["model_dtype"]}
    manifest = write_manifest_if_complete(out_dir, shards, out_dir.name, summary)
    return {"version_dir": str(out_dir), "complete": manifest is not None, "timings": timings,
            "manifest": manifest, "devices": [str(d) for d in embedder.devices]}


def embed_counts(queries: EmbedCounts, passages: EmbedCounts) -> Dict[str, int]:
    """The pair texts this run embedded and those it did not need to (timings of run())."""
    return {"queries_embedded": queries.embedded, "queries_repeated": queries.repeated,
            "passages_embedded": passages.embedded, "passages_reused_from_pool": passages.reused,
            "passages_repeated": passages.repeated}


def build_parser() -> CommandParser:
    parser = CommandParser(prog="python -m filtering.filter_pairs", description=__doc__)
    parser.add_argument("--model", default=None, type=model_folder, help="encoder dir (default: bundled all-MiniLM-L6-v2)")
    parser.add_argument("--pairs", nargs="+", required=True, type=existing_path,
                        help="pair version dirs or roots holding them")
    parser.add_argument("--output", required=True, type=output_path,
                        help="output root; writes <output>/consistency/<version>/")
    parser.add_argument("--version", default=None, type=version_name,
                        help="version folder name (default: UTC timestamp)")
    parser.add_argument("--pool_size", type=positive_int, default=1_000_000,
                        help="passages sampled into the pool each pair's passage competes with")
    parser.add_argument("--k", type=positive_int, default=E5_TOP_K,
                        help="keep a pair iff its passage ranks in the top k of the pool, as E5")
    parser.add_argument("--shard", type=parse_shard, default=(0, 1),
                        help="i/N: this worker's input shards (default: 0/1, all of them)")
    parser.add_argument("--batch_size", type=positive_int, default=256, help="texts per forward")
    add_device_flags(parser)
    parser.add_argument("--backend", default="auto", choices=("auto",) + BACKENDS,
                        help="pool index; auto: the fastest one this machine has")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "bf16"],
                        help="pool vectors as stored in the index (fp16/bf16 halve its memory)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace what other options wrote into --version (otherwise refused)")
    return parser


def check_arguments(parser: CommandParser, args) -> None:
    """What argparse types cannot see, checked before the output folder exists or the model loads."""
    check_device_flags(parser, args)
    try:
        if not input_shards(args.pairs):
            parser.error("--pairs: no pair shards found")
    except (OSError, ValueError, versions.VersionError) as err:
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
