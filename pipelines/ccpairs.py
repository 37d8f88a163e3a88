"""The corpus job: source versions -> one CCPairs version, deduplicated and decontaminated.

    python -m pipelines.ccpairs --input out/reddit/v3 --input out/stackexchange/v2 --output out/ \
        [--version 2026-11-22] [--decontaminate beir/dbpedia-entity] [--near_dup_threshold 0.8]

writes <output>/ccpairs/<version>/: pair shards (one source per shard, so training batches stay
single-source), pool.parquet, stats.json, report.html + report-*.png, README.md (a dataset card)
and manifest.json, last. Runners, flags, claims and publishing are the sources' (pipelines/options.py,
schemas/versions.py).

Every input pair is kept or dropped with exactly one reason, so the manifest's records are the
input pairs and records_read == used + dropped holds, per source too. In order:
  Decontaminate    eval_query, eval_ngram (filtering/decontamination.py), against --decontaminate folders
  SamePairText     duplicate_pair_text: same normalised (query, passage), any source
  RepeatedPassage  repeated_passage: same normalised passage (on unless --keep_repeated_passages)
  NearDuplicates   near_duplicate: MinHash LSH over word 5-gram shingles (filtering/minhash.py)
Each duplicate stage only finds its winners, from slim (key, rank) records combined to the smallest
rank per key (filtering/corpus_keys: pair_rank as rank_bytes: best score, then pair_id), never shuffling
or holding a group of pairs; then one join by pair_id keeps a pair that won every stage and drops it
with the reason of the first stage it lost. Stages may run side by side on all pairs: a pair that loses
an earlier stage has a better-ranked twin with the same passage, so it never changes a later winner.

Near duplicates without connected components or bucket groups: a passage is dropped when any
of its LSH buckets holds a better-ranked passage. Per bucket a combiner keeps only the best
(rank, passage key): a hot bucket (boilerplate shared by 100k passages) is a min over a stream,
pre-combined on every worker before the shuffle. Each bucket's winner gets one point; a passage
survives iff it won all `bands` of its buckets (a second combiner sums the points). Every dropped
passage thus has a better candidate, and the best of every candidate group survives.

How records travel (issue 25): Beam's cost is per element, so no stage sends one element per pair.
  Read + Prepare   one read batch (<= 10,000 rows of a row group) is one Arrow table; one fused step
                   decontaminates it and computes every pair's keys, rank, LSH band keys and shard with
                   numpy over the batch (MinHasher.band_blobs, EvalSet.reasons; the passages' words are
                   hashed once for both, WordHashes). The shard layout comes from the input manifests'
                   pairs per source (input_layout, known at launch), so the shard is known here.
  keyed stages     numpy chunks (keys, ranks, payload) keyed by a partition of the key space
                   (Partitions: ~10k pairs or 100k bucket entries per partition, from the input's row
                   count); array CombineFns (BestPerKeyFn, SumPerKeyFn) keep the best rank / the sum
                   per key, so a hot key is one row of a chunk; pre-combined per batch and per worker.
  verdict          one CoGroupByKey by pair_id partition of stubs (pair_id, source, shard) and each stage's
                   winner ids (JoinMarks): kept ids by shard and outcome counts, never full pairs.
  writer           the full records (tables from Prepare keyed by shard, decontaminated rows already out)
                   shuffle once, straight to their shard, where the shard's kept ids filter them; the
                   writer also counts the stats (per distinct source,
                   subsource, lang and lengths) and draws the shard's pool sample (one sort of its text
                   hashes: ids and (shard, row), no passage text), combined (BottomK: PoolIdsCombineFn,
                   plain tuples, no default side input); WritePool reads the winners' passages back from
                   the written shards once and writes pool.parquet.
A shard writer holds its shard's input rows, dropped ones included: a source's shards are sized by its
input pairs (sink.shard_count: about MAX_ROWS_PER_SHARD input rows at most), so the bound holds for the
rows the writer holds, not only the kept ones (a shard holds fewer kept pairs when the dedup drops some).
"""

import dataclasses
import json
import logging
import math
import sys
import zlib
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.utils import shared

import schemas.manifest
import schemas.reasons
from filtering import corpus_stats, pool
from filtering.corpus_keys import RANK_PREFIX, best_per_key, both_keys, rank_bytes, sum_per_key
from filtering.decontamination import NGRAM_WORDS, EvalDataError, WordHashes, check_beir_folder, load_eval_set
from filtering.minhash import BAND_KEY_BYTES, NUM_PERM, SHINGLE_WORDS, THRESHOLD, LshParams, MinHasher
from filtering.text_hash import text_hash
from pipelines import accounting
from pipelines.job import check_output
from pipelines.options import (UsageError, config_from_options, exit_with_usage_error, make_runner, parse_options,
                               source_options)
from pipelines.progress import ProgressLog
from pipelines.sink import DEFAULT_ROWS_PER_SHARD, PAIR_SORT, shard_count, shard_of
from schemas import versions
from schemas.pairs import PAIR_SCHEMA
from sources.settings import as_dict, setting
from sources.text.ngrams import words

DATASET = "ccpairs"
READ_BATCH_ROWS = 10_000
CARD_NAME = "README.md"

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class CorpusSettings:
    dedup_passages: bool = setting(True, "keep pairs whose normalised passage another pair has (default: keep the "
                                         "best-scored one only)", flag="keep_repeated_passages")
    near_dedup: bool = setting(True, "skip near-duplicate removal", flag="no_near_dedup")
    near_dup_threshold: float = setting(THRESHOLD, "Jaccard similarity of word shingles the LSH bands are chosen for")
    minhash_perms: int = setting(NUM_PERM, "MinHash permutations (bands x rows are chosen within them)")
    shingle_words: int = setting(SHINGLE_WORDS, "words per shingle")
    ngram_words: int = setting(NGRAM_WORDS, "decontamination: length of a shared word n-gram that drops a pair")
    pool_size: int = setting(1_000_000, "passages in pool.parquet, the consistency filter's pool (0: none)")
    report: bool = setting(True, "do not write report.html and its plots", flag="no_report")

    def __post_init__(self):
        self.lsh()  # validates threshold, permutations and shingle size
        if self.ngram_words < 1:
            raise ValueError(f"--ngram_words must be at least 1, not {self.ngram_words}")
        if self.pool_size < 0:
            raise ValueError(f"--pool_size must be >= 0, not {self.pool_size}")

    def lsh(self) -> LshParams:
        return LshParams(self.near_dup_threshold, self.minhash_perms, self.shingle_words)


class CorpusOptions(source_options(DATASET, CorpusSettings)):
    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument("--decontaminate", action="append", default=None,
                            help="BEIR folder (queries.jsonl, corpus.jsonl, qrels/) whose queries and judged "
                                 "passages must not appear in training pairs; repeat for several "
                                 "(default: none, no decontamination)")


# ---- launch: which versions, which evaluation sets ----

def resolve_input(path: str) -> str:
    """A complete version dir as given; <folder>/LATEST or a dataset folder: the version it names / its latest.
    Incomplete versions (no manifest.json) are never merged."""
    try:
        path = versions.resolve_latest(path)
        found = versions.find_version_dirs(path)
    except (FileNotFoundError, versions.VersionError) as exc:
        raise UsageError(f"--input: {exc}") from None
    if found == [path]:
        return path
    if any(versions.join(path, versions.base_name(f)) != f for f in found):
        raise UsageError(f"--input {path} holds versions of several datasets: name one version dir per source")
    log.info("--input %s: using its latest complete version %s", path, found[-1])
    return found[-1]


def lineage_of(version_dirs: Iterable[str]) -> Tuple[List[Dict[str, Any]], List[Tuple[str, int, str]]]:
    """(the manifest's inputs: one entry per version with its counts and code version,
    the work units: (shard path, row group, rows) of every pair shard). Refuses a source in two inputs."""
    lineage, units, owner = [], [], {}
    for version_dir in version_dirs:
        if any(entry["path"] == version_dir for entry in lineage):
            raise UsageError(f"--input {version_dir} is given twice")
        manifest = versions.read_manifest(version_dir)
        try:
            schemas.manifest.check_schema_version(manifest, f"--input {version_dir}")
        except schemas.manifest.ManifestError as exc:
            raise UsageError(str(exc)) from None
        shards = versions.pair_shards(version_dir, manifest)
        pairs_by_source: Dict[str, int] = {}
        for shard in shards:
            if owner.setdefault(shard.source, version_dir) != version_dir:
                raise UsageError(f"--input: source {shard.source!r} is in {owner[shard.source]} and {version_dir}; "
                                 "merge one version per source")
            pairs_by_source[shard.source] = pairs_by_source.get(shard.source, 0) + shard.rows
            units.extend((shard.path, i, rows) for i, rows in enumerate(shard.row_group_rows) if rows)
        lineage.append({
            "path": version_dir, "dataset": manifest.get("dataset"), "version": manifest.get("version"),
            "code_version": manifest.get("code_version"), "created_at": manifest.get("created_at"),
            "schema_version": manifest.get("schema_version"), "bytes": sum(s.size for s in shards),
            "pairs_by_source": dict(sorted(pairs_by_source.items())), "counts": manifest.get("counts"),
            "options": manifest.get("options", {}),
        })
    return lineage, units


SHIPPED_EVAL_NGRAMS = 500_000  # an evaluation set up to this many n-grams (4 MB) travels with the job's graph


def read_eval_folders(folders: List[str], ngram_words: int):
    """(the manifest's eval_sets, the EvalSet when it is small enough to ship to the workers, else None:
    each worker then reads the folders itself). Shipping it saves every SDK worker reading and hashing
    the folders again (0.3-0.5 CPU s each)."""
    try:
        for folder in folders:
            check_beir_folder(folder)
        if not folders:
            return [], None
        eval_set = load_eval_set(folders, ngram_words)
    except EvalDataError as exc:
        raise UsageError(str(exc)) from None
    return eval_set.describe(), (eval_set if eval_set.ngrams.size <= SHIPPED_EVAL_NGRAMS else None)


# ---- how the keyed stages are split: partitions of key space, each a bounded numpy chunk ----

# A keyed stage's chunk per partition is what one worker merges at once after the shuffle: with 1M bucket
# entries per partition, it grew 16x from 10k to 163k pairs (430k entries at 163k pairs, the largest worker
# +19% at 16x with 16 SDK workers); bounded at 100k entries it stays near its size at every scale.
ROWS_PER_PARTITION = 10_000  # pairs (or distinct passages) per key partition of the exact stages and the verdict
BUCKETS_PER_PARTITION = 100_000  # LSH bucket entries per bucket partition
MIN_PARTITIONS = 8  # so that small corpora still spread over workers


@dataclasses.dataclass(frozen=True)
class Partitions:
    """How many key partitions each keyed stage uses, from the input's row count (known at launch):
    a partition's chunk, whatever the corpus size, holds about ROWS_PER_PARTITION pairs or
    BUCKETS_PER_PARTITION bucket entries."""

    keys: int = MIN_PARTITIONS
    buckets: int = MIN_PARTITIONS

    @classmethod
    def for_rows(cls, rows: int, bands: int) -> "Partitions":
        return cls(max(MIN_PARTITIONS, math.ceil(rows / ROWS_PER_PARTITION)),
                   max(MIN_PARTITIONS, math.ceil(rows * bands / BUCKETS_PER_PARTITION)))


def digest_partition(keys: np.ndarray, n: int) -> np.ndarray:
    """The partition of each fixed-size digest key ('S' array): its last 8 bytes mod n."""
    raw = keys.view(np.uint8).reshape(len(keys), keys.dtype.itemsize)
    return np.ascontiguousarray(raw[:, -8:]).view("<u8").ravel() % np.uint64(n)


def pair_id_partition(pair_ids: np.ndarray, n: int) -> np.ndarray:
    """The partition of each pair_id ('S' array of its UTF-8 bytes): crc32 mod n, the verdict's key."""
    return np.fromiter((zlib.crc32(pid) for pid in pair_ids.tolist()), dtype=np.uint64, count=len(pair_ids)) % n


def split_by_partition(partition: np.ndarray, *columns: np.ndarray) -> Iterator[Tuple[int, Tuple[np.ndarray, ...]]]:
    """(partition, the rows of each column in it), one per partition present."""
    if not len(partition):
        return
    order = np.argsort(partition, kind="stable")
    ordered = partition[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(ordered)]
    for a, b in zip(starts.tolist(), ends.tolist()):
        rows = order[a:b]
        yield int(ordered[a]), tuple(column[rows] for column in columns)


def _rows(chunk) -> int:
    return len(chunk[0])


def _concat(chunks):
    return tuple(np.concatenate(parts) for parts in zip(*chunks))


class _ChunkCombineFn(beam.CombineFn):
    """A CombineFn over chunks (tuples of numpy columns, keys first): the accumulator is a list of
    chunks, reduced (`_reduce`) whenever the rows added since the last reduction outnumber the
    reduced ones, so adding is amortised O(log n) per row and an accumulator holds at most about
    twice its reduced size. A hot key is one row of a reduced chunk, whatever its number of copies."""

    MIN_ROWS = 50_000

    def _reduce(self, chunks):
        raise NotImplementedError

    def create_accumulator(self):
        return []

    def _maybe_reduce(self, acc):
        if len(acc) > 1 and sum(map(_rows, acc[1:])) > max(self.MIN_ROWS, _rows(acc[0])):
            return [self._reduce(_concat(acc))]
        return acc

    def add_input(self, acc, chunk):
        acc.append(chunk)
        return self._maybe_reduce(acc)

    def merge_accumulators(self, accumulators):
        return self._maybe_reduce([chunk for acc in accumulators for chunk in acc])

    def compact(self, acc):
        return [self._reduce(_concat(acc))] if len(acc) > 1 else acc

    def extract_output(self, acc):
        return self._reduce(_concat(acc)) if acc else None


class BestPerKeyFn(_ChunkCombineFn):
    """(keys, ranks, *payloads) chunks -> the best-ranked row per key (corpus_keys.best_per_key)."""

    def _reduce(self, chunk):
        return best_per_key(*chunk)


class SumPerKeyFn(_ChunkCombineFn):
    """(keys, counts, *payloads) chunks -> one row per key with the summed count (corpus_keys.sum_per_key)."""

    def _reduce(self, chunk):
        return sum_per_key(*chunk)


def _byte_array(values: List[bytes]) -> np.ndarray:
    return np.array(values, dtype=f"S{max(1, max(map(len, values), default=1))}")


def _pair_ids_of(ranks: np.ndarray) -> np.ndarray:
    return _byte_array([rank[RANK_PREFIX:] for rank in ranks.tolist()])


# ---- reading ----

class ReadPairShards(beam.DoFn):
    """(shard path, row group, rows) -> its pairs as Arrow tables (PAIR_SCHEMA, READ_BATCH_ROWS rows at
    most); the rows read per source on "read".

    Logs its progress (rows read by this worker against `total_rows`, the rows of every unit)."""

    def __init__(self, total_rows: Optional[int] = None):
        self._total_rows, self._done, self._progress = total_rows, 0, None

    def setup(self):
        self._progress = ProgressLog("corpus read", "pairs", total=self._total_rows)

    def process(self, unit):
        path, row_group, _ = unit
        parquet = versions.open_parquet(path)
        read: Dict[str, int] = {}
        for batch in parquet.iter_batches(batch_size=READ_BATCH_ROWS, row_groups=[row_group],
                                          columns=PAIR_SCHEMA.names):
            table = pa.Table.from_batches([batch]).cast(PAIR_SCHEMA)
            for source, n in zip(*_value_counts(table.column("source"))):
                read[source] = read.get(source, 0) + n
            yield table
            self._done += batch.num_rows
            self._progress.update(self._done, self._done)
        for source, n in sorted(read.items()):
            yield beam.pvalue.TaggedOutput("read", (source, n))


def _value_counts(column) -> Tuple[List[str], List[int]]:
    counts = column.value_counts()
    return counts.field("values").to_pylist(), counts.field("counts").to_pylist()


def dropped(source: str, reason: str, n: int = 1) -> beam.pvalue.TaggedOutput:
    """A counted drop ((source, outcome), n) on the "outcomes" output."""
    outcome = accounting.dropped(reason)
    accounting.count(outcome, n)
    return beam.pvalue.TaggedOutput("outcomes", ((source, outcome), n))


# ---- one batch: decontaminate, then the slim records every duplicate stage needs ----

class _Holder:
    """What apache_beam.utils.shared keeps once per worker process (it needs a weak-referencable object)."""

    def __init__(self, value):
        self.value = value


class PreparePairs(beam.DoFn):
    """A table of pairs -> decontamination drops, and the slim chunks of the duplicate stages.

    Per table (numpy over the batch, no per-pair element):
      "outcomes": ((source, dropped/eval_*), n) for pairs that leak an evaluation set (dropped here);
      main:       the other pairs, the full records, as one table (they meet the verdict at the writer);
      "stubs":    (pair_id partition, (pair_ids, sources)): every pair the verdict must decide;
      "pair_text": (key partition, (pair text keys, ranks)), the best rank per key in the batch;
      "passages": (key partition, (passage keys, ranks[, LSH band keys])), the best rank per passage;
      "candidates": (key partition, (passage keys, pair_ids)), only when repeated passages are kept.
    Ranks are corpus_keys.rank_bytes; keys are 128-bit digests; all columns are numpy arrays.
    """

    def __init__(self, config: "CorpusSettings", eval_folders: List[str], partitions: Partitions, eval_set=None, *,
                 layout: Mapping[str, Tuple[int, int]]):
        self._config, self._folders, self._partitions = config, list(eval_folders), partitions
        self._layout = dict(layout)
        self._shared = shared.Shared()
        self._eval, self._hasher = eval_set, None  # eval_set: read at launch and shipped, when small

    def setup(self):
        config = self._config
        if self._folders and self._eval is None:
            tag = json.dumps(["eval", self._folders, config.ngram_words])
            self._eval = self._shared.acquire(lambda: _Holder(load_eval_set(self._folders, config.ngram_words)),
                                              tag=tag).value
        if config.near_dedup:
            params = config.lsh()
            self._hasher = self._shared.acquire(lambda: _Holder(MinHasher(params)), tag=repr(params)).value

    def process(self, table: pa.Table):
        yield from prepare_table(table, self._config, self._partitions, self._layout, self._eval, self._hasher)


def prepare_table(table: pa.Table, config: "CorpusSettings", partitions: Partitions, layout, eval_set=None,
                  hasher=None):
    """PreparePairs' work on one table (a generator of its outputs); `layout` is the shard layout (shard_layout
    of the input pairs per source, known at launch), so each pair's shard is computed here, once."""
    if not table.num_rows:
        return
    ids = table.column("pair_id").to_pylist()
    sources = table.column("source").to_pylist()
    queries = table.column("query").to_pylist()
    passages = table.column("passage").to_pylist()
    scores = table.column("score").to_pylist()
    passage_words = [words(p) for p in passages] if eval_set is not None or hasher is not None else None
    passage_hashes = WordHashes.of(passage_words) if passage_words is not None else None  # once for both uses
    keep = range(len(ids))
    if eval_set is not None:
        verdicts = eval_set.reasons([words(q) for q in queries], passage_words, passage_hashes)
        drops: Dict[Tuple[str, str], int] = {}
        for source, reason in zip(sources, verdicts):
            if reason is not None:
                drops[(source, reason)] = drops.get((source, reason), 0) + 1
        for (source, reason), n in sorted(drops.items()):
            yield dropped(source, reason, n)
        if drops:
            mask = [reason is None for reason in verdicts]
            keep = [i for i, ok in enumerate(mask) if ok]
            table = table.filter(pa.array(mask))
    if not len(keep):
        return
    shards = _shards_of([ids[i] for i in keep], [sources[i] for i in keep], layout)
    for shard, (rows,) in split_by_partition(shards, np.arange(len(shards))):
        if shard >= 0:
            yield shard, table.take(pa.array(rows))
    n_keys = partitions.keys
    pair_ids = _byte_array([ids[i].encode("utf-8") for i in keep])
    for part, chunk in split_by_partition(pair_id_partition(pair_ids, n_keys), pair_ids,
                                          _byte_array([sources[i].encode("utf-8") for i in keep]), shards):
        yield beam.pvalue.TaggedOutput("stubs", (part, chunk))
    ranks = _byte_array([rank_bytes(scores[i], ids[i]) for i in keep])
    keys = [both_keys(queries[i], passages[i]) for i in keep]
    text_keys = np.array([k[0] for k in keys], dtype="S16")
    passage_keys = np.array([k[1] for k in keys], dtype="S16")
    best = best_per_key(text_keys, ranks)
    for part, chunk in split_by_partition(digest_partition(best[0], n_keys), *best):
        yield beam.pvalue.TaggedOutput("pair_text", (part, chunk))
    if not (config.dedup_passages or config.near_dedup):
        return
    positions = np.asarray(keep)
    best_keys, best_ranks, at = best_per_key(passage_keys, ranks, positions)
    columns = (best_keys, best_ranks)
    if hasher is not None:
        rows = at.tolist()
        columns += (hasher.band_blobs([passages[i] for i in rows], [passage_words[i] for i in rows],
                                      passage_hashes.take(at)),)
    for part, chunk in split_by_partition(digest_partition(best_keys, n_keys), *columns):
        yield beam.pvalue.TaggedOutput("passages", (part, chunk))
    if config.near_dedup and not config.dedup_passages:
        for part, chunk in split_by_partition(digest_partition(passage_keys, n_keys), passage_keys, pair_ids):
            yield beam.pvalue.TaggedOutput("candidates", (part, chunk))


# ---- duplicates: each stage finds its winners from slim chunks; one join by pair_id applies them ----

def winner_ids(kv, n_keys: int):
    """(partition, (keys, ranks, ...)) of a best-per-key stage -> (pair_id partition, winners' pair_ids)."""
    _, chunk = kv
    if chunk is None:
        return
    pair_ids = _pair_ids_of(chunk[1])
    yield from ((part, ids) for part, (ids,) in split_by_partition(pair_id_partition(pair_ids, n_keys), pair_ids))


class NearDuplicateWinners(beam.PTransform):
    """Distinct passages (key partition, (passage keys, ranks, band keys)) -> the pair_ids (by pair_id
    partition) whose passage won all its LSH buckets (see the module docstring).

    A passage (distinct normalised text) is one LSH member ranked by its best pair. With repeated
    passages dropped before (passages_unique), the winner is that best pair; otherwise every pair
    of a winning passage is one, found by a join with `candidates` by passage key.
    """

    def __init__(self, params: LshParams, partitions: Partitions, passages_unique: bool, candidates=None):
        super().__init__()
        self._params, self._partitions, self._unique = params, partitions, passages_unique
        self._candidates = candidates

    def expand(self, members):
        bands, n_keys, n_buckets = self._params.bands, self._partitions.keys, self._partitions.buckets
        unique = self._unique

        def buckets(kv, slice_rows=20_000):
            _, chunk = kv
            if chunk is None:
                return
            keys, ranks, blobs = chunk
            for a in range(0, len(keys), slice_rows):
                part = np.ascontiguousarray(blobs[a:a + slice_rows])
                bucket_keys = part.view(f"S{BAND_KEY_BYTES}").ravel()
                best = best_per_key(bucket_keys, np.repeat(ranks[a:a + slice_rows], bands),
                                    np.repeat(keys[a:a + slice_rows], bands))
                yield from split_by_partition(digest_partition(best[0], n_buckets), *best)

        def points(kv):
            _, chunk = kv
            if chunk is None:
                return
            _, ranks, passage_keys = chunk
            summed = sum_per_key(passage_keys, np.ones(len(passage_keys), dtype=np.int64), ranks)
            yield from split_by_partition(digest_partition(summed[0], n_keys), *summed)

        def won_every_bucket(kv):
            part, chunk = kv
            if chunk is None:
                return
            keys, counts, ranks = chunk
            won = counts == bands
            if unique:
                yield from winner_ids((part, (keys[won], ranks[won])), n_keys)
            else:
                yield part, keys[won]

        won = (members
               | "BucketMembers" >> beam.FlatMap(buckets)
               | "BestPerBucket" >> beam.CombinePerKey(BestPerKeyFn())
               | "PointToWinner" >> beam.FlatMap(points)
               | "PointsPerPassage" >> beam.CombinePerKey(SumPerKeyFn())
               | "WonEveryBucket" >> beam.FlatMap(won_every_bucket))
        if unique:
            return won

        def winners(kv):
            _, group = kv
            won_keys = list(group["won"])
            candidates = list(group["pair_ids"])
            if not won_keys or not candidates:
                return
            keys, pair_ids = _concat(candidates)
            ids = pair_ids[np.isin(keys, np.concatenate(won_keys))]
            yield from ((p, c) for p, (c,) in split_by_partition(pair_id_partition(ids, n_keys), ids))

        return ({"pair_ids": self._candidates, "won": won}
                | "JoinWon" >> beam.CoGroupByKey()
                | "Winners" >> beam.FlatMap(winners))


class ApplyStages(beam.PTransform):
    """{"stubs" ((pair_ids, sources, shards) by pair_id partition), and per stage (reason: winner pair_ids by
    pair_id partition), in order} -> {"kept": (shard, its kept pair_ids), "outcomes"}.

    One join by pair_id partition: a pair is kept when every stage marked it a winner, else dropped
    with the reason of the first stage that did not. Each partition holds about ROWS_PER_PARTITION pairs.
    """

    def __init__(self, reasons: List[str]):
        super().__init__()
        self._reasons = list(reasons)

    def expand(self, pcolls):
        reasons = self._reasons

        def verdict(kv):
            _, group = kv
            stubs = list(group["stubs"])
            if not stubs:
                return
            pair_ids, sources, shards = _concat(stubs)
            lost = np.full(len(pair_ids), len(reasons), dtype=np.int64)
            for i in range(len(reasons) - 1, -1, -1):  # the first stage lost wins
                marks = list(group[reasons[i]])
                winners = np.concatenate(marks) if marks else np.empty(0, dtype=pair_ids.dtype)
                lost[~np.isin(pair_ids, winners)] = i
            outcomes: Dict[Tuple[str, int], int] = {}
            for source, stage in zip(sources.tolist(), lost.tolist()):
                outcomes[(source, stage)] = outcomes.get((source, stage), 0) + 1
            for (source, stage), n in sorted(outcomes.items()):
                name = source.decode("utf-8")
                if stage == len(reasons):
                    yield beam.pvalue.TaggedOutput("outcomes", ((name, schemas.reasons.USED), n))
                else:
                    yield dropped(name, reasons[stage], n)
            kept = (lost == len(reasons)) & (shards >= 0)
            for shard, (ids,) in split_by_partition(shards[kept], pair_ids[kept]):
                yield shard, ids

        tagged = {"stubs": pcolls["stubs"]}
        tagged.update((reason, pcolls[reason]) for reason in reasons)
        return (tagged
                | "JoinMarks" >> beam.CoGroupByKey()
                | "Verdict" >> beam.FlatMap(verdict).with_outputs("outcomes", main="kept"))


class Deduplicate(beam.PTransform):
    """PreparePairs' outputs -> {"kept": (shard, its kept pair_ids), "outcomes"}: exact pair text, repeated
    passages, near duplicates."""

    def __init__(self, config: "CorpusSettings", partitions: Partitions):
        super().__init__()
        self._config, self._partitions = config, partitions

    def expand(self, prepared):
        config, n_keys = self._config, self._partitions.keys
        stages = {schemas.reasons.DROP_DUPLICATE_PAIR_TEXT: (
            prepared["pair_text"]
            | "BestPairText" >> beam.CombinePerKey(BestPerKeyFn())
            | "PairTextWinners" >> beam.FlatMap(winner_ids, n_keys))}
        if config.dedup_passages or config.near_dedup:
            members = prepared["passages"] | "OnePerPassage" >> beam.CombinePerKey(BestPerKeyFn())
            if config.dedup_passages:
                stages[schemas.reasons.DROP_REPEATED_PASSAGE] = members | "PassageWinners" >> beam.FlatMap(
                    winner_ids, n_keys)
            if config.near_dedup:
                stages[schemas.reasons.DROP_NEAR_DUPLICATE] = members | "NearDuplicates" >> NearDuplicateWinners(
                    config.lsh(), self._partitions, passages_unique=config.dedup_passages,
                    candidates=None if config.dedup_passages else prepared["candidates"])
        return dict(stages, stubs=prepared["stubs"]) | "Apply" >> ApplyStages(list(stages))


# ---- the pool ----

class PoolIdsCombineFn(beam.CombineFn):
    """The filter's passage pool as a combiner, without passage text: a shard writer's sample is a list of
    (text hash, source, passage_id, ((shard, row),)); each accumulator keeps at most `size` of them
    (pool.PoolIdSample), so a merge of many samples holds ids only, never their passages."""

    def __init__(self, size: int):
        self._size = size

    def create_accumulator(self):
        return pool.PoolIdSample(self._size)

    def add_input(self, acc, sample):
        for entry in sample:
            acc.offer(*entry)
        return acc

    def merge_accumulators(self, accumulators):
        accumulators = iter(accumulators)  # one at a time: never all of them held as a list
        merged = next(accumulators)
        for acc in accumulators:
            merged.merge(acc)
        return merged

    def extract_output(self, acc):
        return acc.entries()  # plain tuples: Beam encodes them without pickle


def pool_fanout(expected_shards: int) -> int:
    """Intermediate merges of the pool's combine: with a fanout of sqrt(shards), no merge takes more than
    about sqrt(shards) samples (each up to pool_size entries, ids only)."""
    return max(2, math.ceil(math.sqrt(max(1, expected_shards))))


def pool_passages(directory: str, layout: Mapping[str, Tuple[int, int]], entries) -> List[pool.PoolEntry]:
    """The pool's entries with their passages, read back from the written shards: each shard that holds a
    winner is read once (its passage column), so only the pool_size winners' passages are ever held.
    A winner with several locations (the same source and passage_id in several rows) takes the smallest
    passage, BottomKSample's tie-break."""
    by_shard: Dict[int, List[int]] = {}
    for _, _, _, locations in entries:
        for shard, row in locations:
            by_shard.setdefault(shard, []).append(row)
    total = total_shards(layout)
    texts: Dict[Tuple[int, int], str] = {}
    for shard, rows in sorted(by_shard.items()):
        path = versions.join(directory, versions.shard_name("pairs", shard, total))
        column = versions.open_parquet(path).read(columns=["passage"]).column("passage")
        texts.update(zip(((shard, row) for row in rows), column.take(pa.array(rows)).to_pylist()))
    return [pool.PoolEntry(key, source, passage_id, min(texts[at] for at in locations))
            for key, source, passage_id, locations in entries]


class _WritePool(beam.DoFn):
    def __init__(self, directory: str, layout: Mapping[str, Tuple[int, int]]):
        self._directory, self._layout = directory, dict(layout)

    def process(self, entries):
        drawn = pool.Pool(tuple(sorted(pool_passages(self._directory, self._layout, entries))))
        rows = versions.write_table(versions.join(self._directory, pool.POOL_NAME), drawn.to_table())
        yield {"path": pool.POOL_NAME, "rows": rows}


# ---- writing: one source per shard; the full records meet the verdict here ----

def shard_layout(rows_per_source: Mapping[str, int], num_shards: int = 0) -> Dict[str, Tuple[int, int]]:
    """{source: (first shard index, shards)}: sources in name order, each its own shards.

    num_shards 0: one shard per DEFAULT_ROWS_PER_SHARD rows of a source; otherwise about that many
    in all, split by size (each source at least one). No rows at all: one empty shard ("").
    """
    sources = sorted(s for s, n in rows_per_source.items() if n)
    total = sum(rows_per_source[s] for s in sources)
    layout, start = {}, 0
    for source in sources:
        rows = rows_per_source[source]
        wanted = max(1, round(num_shards * rows / total)) if num_shards else 0
        count = shard_count(rows, wanted, DEFAULT_ROWS_PER_SHARD)
        layout[source] = (start, count)
        start += count
    return layout or {"": (0, 1)}


def total_shards(layout: Mapping[str, Tuple[int, int]]) -> int:
    return sum(n for _, n in layout.values())


def _shards_of(pair_ids: Iterable[str], sources: Iterable[str], layout) -> np.ndarray:
    """Each pair's shard (its source's first shard + shard_of(pair_id, its source's shards)); -1 when
    its source has no kept pair (so none of its pairs is written)."""
    out = []
    for pair_id, source in zip(pair_ids, sources):
        start, n = layout.get(source, (-1, 0))
        out.append(start + shard_of(pair_id, n) if n else -1)
    return np.array(out, dtype=np.int64)


def input_layout(lineage: List[Mapping[str, Any]], num_shards: int = 0) -> Dict[str, Tuple[int, int]]:
    """The shard layout from the input manifests' pairs per source (known at launch, so Prepare computes each
    pair's shard): a source's shards are sized by its input pairs, so a shard holds at most what
    shard_layout allows of them, however many pairs the dedup drops (a source left with no kept pair
    writes empty shards)."""
    rows: Dict[str, int] = {}
    for entry in lineage:
        for source, n in entry["pairs_by_source"].items():
            rows[source] = rows.get(source, 0) + n
    return shard_layout(rows, num_shards)


def shard_stats_and_pool(table: pa.Table, pool_size: int, shard: int):
    """The stats counts and the pool sample of one written shard's pairs (index `shard`, rows in written
    order): (text hash, source, passage_id, ((shard, row),)) plain tuples, no passage text."""
    sources, subsources, langs, queries, passages, passage_ids = (
        table.column(c).to_pylist() for c in ("source", "subsource", "lang", "query", "passage", "passage_id"))
    counts = corpus_stats.count_stats(sources, subsources, langs, queries, passages)
    hashes = np.fromiter(map(text_hash, passages), dtype=np.uint64, count=len(passages))
    return counts, [(key, source, passage_id, ((shard, row),)) for key, source, passage_id, row
                    in pool.bottom_k_indices(hashes, sources, passage_ids, passages, pool_size)]


class _WriteSourceShard(beam.DoFn):
    """(shard, {"rows": tables of pairs, "kept": pair_id chunks, "empty"}) -> the shard written (its kept
    pairs, sorted by pair_id), its stats counts ("stats") and its pool sample ("pool")."""

    def __init__(self, directory: str, layout: Mapping[str, Tuple[int, int]], pool_size: int):
        self._directory, self._layout, self._pool_size = directory, dict(layout), pool_size

    def process(self, element):
        index, group = element
        layout = self._layout
        source = next(s for s, (start, n) in layout.items() if start <= index < start + n)
        name = versions.shard_name("pairs", index, total_shards(layout))
        tables = list(group["rows"])
        kept = [ids for ids in group["kept"]]
        if tables and kept:
            table = pa.concat_tables(tables)
            wanted = pa.array(np.concatenate(kept).tolist(), type=pa.binary())
            table = table.filter(pc.is_in(table.column("pair_id").cast(pa.binary()), value_set=wanted))
        else:
            table = PAIR_SCHEMA.empty_table()
        table = table.take(pc.sort_indices(table, sort_keys=PAIR_SORT)).combine_chunks()
        entry = {"path": name, "rows": versions.write_table(versions.join(self._directory, name), table)}
        if source:
            entry["source"] = source
        counts, sample = shard_stats_and_pool(table, self._pool_size, index)
        for key, n in counts.items():
            yield beam.pvalue.TaggedOutput("stats", (key, n))
        yield beam.pvalue.TaggedOutput("pool", sample)
        yield entry


class WriteSourceShards(beam.PTransform):
    """{"rows": (shard, a table of its pairs), "kept": (shard, the verdict's kept pair_ids)} -> deterministic
    Parquet shards of `layout` (input_layout), each holding one source's kept pairs (sorted by pair_id);
    outputs "shards" (entries), "stats" ((kind, source, value), n) and "pool" (per-shard samples).
    The full records cross the shuffle once: Prepare already keyed them by shard."""

    def __init__(self, directory: str, layout: Mapping[str, Tuple[int, int]], pool_size: int):
        super().__init__()
        self._directory, self._layout, self._pool_size = directory, dict(layout), pool_size

    def expand(self, pcolls):
        empties = pcolls["rows"].pipeline | "EveryShard" >> beam.Create(
            [(i, None) for i in range(total_shards(self._layout))])
        return ({"rows": pcolls["rows"], "kept": pcolls["kept"], "empty": empties}
                | "GroupByShard" >> beam.CoGroupByKey()
                | "Write" >> beam.ParDo(_WriteSourceShard(self._directory, self._layout, self._pool_size)).with_outputs(
                    "stats", "pool", main="shards"))


# ---- the manifest, the report, the card, publishing ----

def source_counts(reads: Mapping[str, int], outcomes: Mapping[Tuple[str, str], int]) -> Dict[str, Dict[str, Any]]:
    """Per source: pairs in, kept, dropped by reason; refuses counts that do not add up."""
    counts = {}
    for source in sorted(set(reads) | {s for s, _ in outcomes}):
        kept = outcomes.get((source, schemas.reasons.USED), 0)
        drops = {
            o.split("/", 1)[1]: n for (s, o), n in sorted(outcomes.items()) if s == source and o != schemas.reasons.USED
        }
        if kept + sum(drops.values()) != reads.get(source, 0):
            raise schemas.manifest.ManifestError(
                f"{source}: read {reads.get(source, 0)} pairs but kept {kept} + dropped " f"{sum(drops.values())}"
            )
        counts[source] = {"pairs_in": reads.get(source, 0), "pairs_kept": kept, "dropped": drops}
    return counts


def check_reads_match_lineage(reads: Mapping[str, int], lineage: List[Mapping[str, Any]]) -> None:
    """The pairs read per source equal what the input manifests list (a read that lost rows fails)."""
    listed: Dict[str, int] = {}
    for entry in lineage:
        for source, n in entry["pairs_by_source"].items():
            listed[source] = listed.get(source, 0) + n
    if {s: n for s, n in listed.items() if n} != {s: n for s, n in reads.items() if n}:
        raise schemas.manifest.ManifestError(
            f"pairs read per source {dict(reads)} differ from the input manifests' {listed}"
        )


def corpus_manifest(*, version: str, lineage, shards, reads, outcomes, options, extra) -> Dict[str, Any]:
    check_reads_match_lineage(reads, lineage)
    per_source = source_counts(reads, outcomes)
    dropped_total: Dict[str, int] = {}
    for counts in per_source.values():
        for reason, n in counts["dropped"].items():
            dropped_total[reason] = dropped_total.get(reason, 0) + n
    used = sum(c["pairs_kept"] for c in per_source.values())
    pairs = sum(s["rows"] for s in shards)
    if used != pairs:
        raise schemas.manifest.ManifestError(f"{used} pairs kept but the shards hold {pairs}")
    return schemas.manifest.build_manifest(
        dataset=DATASET, version=version, code_version=schemas.manifest.code_version(), inputs=lineage,
        records_read=sum(reads.values()), records_used=used, records_dropped=dropped_total, records_rejected={},
        pairs=pairs, shards=sorted(shards, key=lambda s: s["path"]), reject_shards=[], options=options,
        extra=dict(extra, records="input pairs", source_counts=per_source))


class _PublishCorpus(beam.DoFn):
    def __init__(self, claim: versions.Claim, version: str, lineage, options, extra, report: bool):
        self._claim, self._version, self._lineage = claim, version, lineage
        self._options, self._extra, self._report = options, extra, report

    def process(self, _, shards, pool_file, outcomes, reads, stat_counts):
        from schemas import dataset_card

        staging = self._claim.staging_dir
        extra = dict(self._extra, pool=pool_file)
        manifest = corpus_manifest(version=self._version, lineage=self._lineage, shards=shards, reads=reads,
                                   outcomes=outcomes, options=self._options, extra=extra)
        stats = corpus_stats.nest(stat_counts.items())
        versions.write_bytes(
            versions.join(staging, corpus_stats.STATS_NAME), (json.dumps(stats, indent=1) + "\n").encode("utf-8")
        )
        card = dataset_card.card(manifest, stats, version_dir=staging)  # the example instance is read from staging
        versions.write_bytes(versions.join(staging, CARD_NAME), card.encode("utf-8"))
        if self._report:
            from pipelines import report

            report.write_report(manifest, stats, staging)
        versions.publish(self._claim, manifest)
        yield manifest


def manifest_options(config: CorpusSettings, eval_folders: List[str], num_shards: int) -> Dict[str, Any]:
    """The manifest's "options": what another run must give to make the same version."""
    return dict(as_dict(config), decontaminate=list(eval_folders), num_shards=num_shards)


def build_corpus(
    pipeline: beam.Pipeline,
    *,
    units,
    lineage,
    claim: versions.Claim,
    version: str,
    config: CorpusSettings,
    eval_folders: List[str],
    eval_summary,
    num_shards: int,
    eval_set=None,
):
    """Add the whole job to `pipeline` (the version is claimed already); returns the manifest PCollection."""
    staging = claim.staging_dir
    total_rows = sum(unit[2] for unit in units)
    partitions = Partitions.for_rows(total_rows, config.lsh().bands)
    layout = input_layout(lineage, num_shards)
    read = (pipeline
            | "Units" >> beam.Create(units)
            | "SpreadUnits" >> beam.Reshuffle()
            | "Read" >> beam.ParDo(ReadPairShards(total_rows)).with_outputs("read", main="tables"))
    prepared = read["tables"] | "Prepare" >> beam.ParDo(PreparePairs(config, eval_folders, partitions, eval_set, layout=layout)).with_outputs(
        "outcomes", "stubs", "pair_text", "passages", "candidates", main="rows")
    verdict = ({tag: prepared[tag] for tag in ("stubs", "pair_text", "passages", "candidates")}
               | "Deduplicate" >> Deduplicate(config, partitions))
    written = ({"rows": prepared["rows"], "kept": verdict["kept"]}
               | "WriteShards" >> WriteSourceShards(staging, layout, config.pool_size))

    outcomes = ((prepared["outcomes"], verdict["outcomes"])
                | "AllOutcomes" >> beam.Flatten()
                | "SumOutcomes" >> beam.CombinePerKey(sum)
                | "OutcomesAsDict" >> beam.combiners.ToDict())
    reads = (read["read"]
             | "SumRead" >> beam.CombinePerKey(sum)
             | "ReadAsDict" >> beam.combiners.ToDict())
    stat_counts = (written["stats"]
                   | "CountStats" >> beam.CombinePerKey(sum)
                   | "StatsAsDict" >> beam.combiners.ToDict())
    expected_shards = total_shards(layout)
    pool_file = (written["pool"]
                 | "BottomK" >> beam.CombineGlobally(PoolIdsCombineFn(config.pool_size)).with_fanout(
                     pool_fanout(expected_shards)).without_defaults()  # every shard (even empty) gives a sample
                 | "WritePool" >> beam.ParDo(_WritePool(staging, layout)))
    shards = written["shards"]

    options = manifest_options(config, eval_folders, num_shards)
    extra = {"near_duplicates": config.lsh().describe() if config.near_dedup else None,
             "decontamination": {"ngram_words": config.ngram_words, "eval_sets": eval_summary}}
    begin = pipeline | "ManifestTrigger" >> beam.Create([None])
    return begin | "WriteManifest" >> beam.ParDo(
        _PublishCorpus(claim, version, lineage, options, extra, config.report),
        shards=beam.pvalue.AsList(shards), pool_file=beam.pvalue.AsSingleton(pool_file),
        outcomes=beam.pvalue.AsSingleton(outcomes), reads=beam.pvalue.AsSingleton(reads),
        stat_counts=beam.pvalue.AsSingleton(stat_counts))


def build_pipeline(pipeline: beam.Pipeline, options) -> versions.Claim:
    """Check the inputs, claim the version, add the job; returns the claim (as the sources' jobs do)."""
    own = options.view_as(CorpusOptions)
    config = config_from_options(options, CorpusOptions)
    check_output(own.output)
    version_dirs = [resolve_input(path) for path in own.input]
    lineage, units = lineage_of(version_dirs)
    eval_folders = list(own.decontaminate or [])
    eval_summary, eval_set = read_eval_folders(eval_folders, config.ngram_words)
    claim = versions.claim_version(versions.version_path(own.output, DATASET, own.dataset_version), own.overwrite)
    build_corpus(pipeline, units=units, lineage=lineage, claim=claim, version=own.dataset_version, config=config,
                 eval_folders=eval_folders, eval_summary=eval_summary, num_shards=own.num_shards, eval_set=eval_set)
    return claim


def run(argv: Optional[List[str]] = None) -> str:
    """Parse argv, build and run the job (offline runner unless --runner); returns the version dir."""
    argv = list(sys.argv[1:] if argv is None else argv)
    options = parse_options(argv, CorpusOptions)
    claim = None
    try:
        with beam.Pipeline(runner=make_runner(argv), options=options) as pipeline:
            claim = build_pipeline(pipeline, options)
    finally:
        if claim is not None:
            versions.release(claim)  # a no-op once published; otherwise (failure, --dry_run) frees the version
    logging.info("wrote %s", claim.version_dir)
    return claim.version_dir


def main(argv: Optional[List[str]] = None) -> int:
    logging.getLogger().setLevel(logging.INFO)
    try:
        print(run(argv))
    except (UsageError, versions.VersionError) as exc:
        exit_with_usage_error(f"python -m pipelines.{DATASET}", exc)
    return 0


if __name__ == "__main__":
    # Run the job of the module imported under its own name: a class defined here then pickles as
    # pipelines.ccpairs.X, which SDK workers (multi-processing, Dataflow) import; __main__.X they cannot.
    from pipelines import ccpairs as job_module

    job_module.main()
