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
rank per key (sources/corpus_keys.pair_rank: best score, then pair_id), never shuffling or holding a
group of pairs; then one join by pair_id keeps a pair that won every stage and drops it with the
reason of the first stage it lost. Stages may run side by side on all pairs: a pair that loses an
earlier stage has a better-ranked twin with the same passage, so it never changes a later winner.

Near duplicates without connected components or bucket groups: a passage is dropped when any
of its LSH buckets holds a better-ranked passage. Per bucket a combiner keeps only the best
(rank, passage key): a hot bucket (boilerplate shared by 100k passages) is a min over a stream,
pre-combined on every worker before the shuffle. Each bucket's winner gets one point; a passage
survives iff it won all `bands` of its buckets (a second combiner sums the points). Every dropped
passage thus has a better candidate, and the best of every candidate group survives.
"""

import dataclasses
import json
import logging
import sys
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

import apache_beam as beam
import pyarrow as pa
from apache_beam.utils import shared

import schemas.manifest
import schemas.reasons
from filtering import corpus_stats, pool
from filtering.corpus_keys import pair_rank, pair_text_key, passage_key
from filtering.decontamination import NGRAM_WORDS, EvalDataError, check_beir_folder, load_eval_set
from filtering.minhash import BAND_KEY_BYTES, NUM_PERM, SHINGLE_WORDS, THRESHOLD, LshParams, MinHasher
from pipelines import accounting
from pipelines.job import check_output
from pipelines.options import (UsageError, config_from_options, exit_with_usage_error, make_runner, parse_options,
                               source_options)
from pipelines.progress import ProgressLog
from pipelines.sink import DEFAULT_ROWS_PER_SHARD, PAIR_SORT, shard_count, shard_of, sorted_table
from schemas import versions
from schemas.pairs import PAIR_SCHEMA
from sources.settings import as_dict, setting

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


def check_eval_folders(folders: List[str], ngram_words: int) -> List[Dict[str, Any]]:
    """Read every --decontaminate folder whole at launch, before the claim: a folder that is not
    BEIR data (a missing file, a line that is no JSON object, qrels in neither BEIR nor TREC form) is
    one line, never a traceback on a worker or a silent miss. Returns the manifest's eval_sets."""
    try:
        for folder in folders:
            check_beir_folder(folder)
        return load_eval_set(folders, ngram_words).describe() if folders else []
    except EvalDataError as exc:
        raise UsageError(str(exc)) from None


# ---- reading ----

class ReadPairShards(beam.DoFn):
    """(shard path, row group, rows) -> its pairs as dicts; the rows read per source on "read".

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
            for pair in pa.Table.from_batches([batch]).cast(PAIR_SCHEMA).to_pylist():
                read[pair["source"]] = read.get(pair["source"], 0) + 1
                yield pair
            self._done += batch.num_rows
            self._progress.update(self._done, self._done)
        for source, n in sorted(read.items()):
            yield beam.pvalue.TaggedOutput("read", (source, n))


def dropped(source: str, reason: str, n: int = 1) -> beam.pvalue.TaggedOutput:
    """A counted drop ((source, outcome), n) on the "outcomes" output."""
    outcome = accounting.dropped(reason)
    accounting.count(outcome, n)
    return beam.pvalue.TaggedOutput("outcomes", ((source, outcome), n))


# ---- decontamination ----

class _EvalHolder:
    """What apache_beam.utils.shared keeps once per worker process (it needs a weak-referencable object)."""

    def __init__(self, eval_set):
        self.eval_set = eval_set


class Decontaminate(beam.DoFn):
    def __init__(self, folders: List[str], ngram_words: int):
        self._folders, self._ngram_words = list(folders), ngram_words
        self._shared = shared.Shared()

    def setup(self):
        tag = json.dumps([self._folders, self._ngram_words])
        self._eval = self._shared.acquire(lambda: _EvalHolder(load_eval_set(self._folders, self._ngram_words)),
                                          tag=tag).eval_set

    def process(self, pair):
        reason = self._eval.reason(pair["query"], pair["passage"])
        if reason is None:
            yield pair
        else:
            yield dropped(pair["source"], reason)


# ---- duplicates: each stage finds its winners from slim (key, rank) records; one join applies them ----

class Smallest(beam.CombineFn):
    """The smallest value per key, e.g. the best pair_rank: an O(1) accumulator whatever the group size.
    A CombineFn class rather than the builtin `min`, so Beam's pre-combining cache is capped at 100k
    keys per worker (1M for the builtins), which keeps a worker's memory flat as the corpus grows."""

    def create_accumulator(self):
        return None

    def add_input(self, best, value):
        return value if best is None or value < best else best

    def merge_accumulators(self, accumulators):
        best = None
        for value in accumulators:
            if value is not None and (best is None or value < best):
                best = value
        return best

    def extract_output(self, best):
        return best


class CountPoints(beam.CombineFn):
    """A sum per key (as a CombineFn class for the same 100k-key cache cap as Smallest)."""

    def create_accumulator(self):
        return 0

    def add_input(self, total, n):
        return total + n

    def merge_accumulators(self, totals):
        return sum(totals)

    def extract_output(self, total):
        return total


def _pair_id_of(rank) -> str:
    return rank[2]  # pair_rank ends with the pair_id


class BestPerKey(beam.PTransform):
    """Pairs -> the pair_id of the best-ranked pair per key(pair) (only ranks are shuffled, never pairs)."""

    def __init__(self, key):
        super().__init__()
        self._key = key

    def expand(self, pairs):
        return (pairs
                | "RankByKey" >> beam.Map(lambda p, key=self._key: (key(p), pair_rank(p)))
                | "BestRank" >> beam.CombinePerKey(Smallest())
                | "WinnerId" >> beam.Map(lambda kv: _pair_id_of(kv[1])))


def _pair_text_key(pair) -> bytes:
    return pair_text_key(pair["query"], pair["passage"])


def _passage_key(pair) -> bytes:
    return passage_key(pair["passage"])


class _HasherHolder:
    def __init__(self, hasher):
        self.hasher = hasher


class PassageBands(beam.DoFn):
    """pair -> (passage key, (rank, the passage's band keys as one bytes value))."""

    def __init__(self, params: LshParams):
        self._params = params
        self._shared = shared.Shared()

    def setup(self):
        self._hasher = self._shared.acquire(lambda: _HasherHolder(MinHasher(self._params)),
                                            tag=repr(self._params)).hasher

    def process(self, pair):
        yield (passage_key(pair["passage"]), (pair_rank(pair), b"".join(self._hasher.passage_band_keys(pair["passage"]))))


class NearDuplicateWinners(beam.PTransform):
    """Pairs -> pair_ids whose passage won all its LSH buckets (see the module docstring).

    A passage (distinct normalised text) is one LSH member ranked by its best pair. With repeated
    passages dropped before (passages_unique), the winner is that best pair; otherwise every pair
    of a winning passage is one, found by a join by passage key.
    """

    def __init__(self, params: LshParams, passages_unique: bool):
        super().__init__()
        self._params, self._unique = params, passages_unique

    def expand(self, pairs):
        bands, key_size = self._params.bands, BAND_KEY_BYTES
        members = (pairs
                   | "Bands" >> beam.ParDo(PassageBands(self._params))
                   | "OnePerPassage" >> beam.CombinePerKey(Smallest()))

        def buckets(kv):
            passage, (rank, blob) = kv
            for i in range(0, len(blob), key_size):
                yield (blob[i:i + key_size], (rank, passage))

        won = (members
               | "BucketMembers" >> beam.FlatMap(buckets)
               | "BestPerBucket" >> beam.CombinePerKey(Smallest())
               | "PointToWinner" >> beam.Map(lambda kv: (kv[1][1], 1))
               | "PointsPerPassage" >> beam.CombinePerKey(CountPoints())
               | "WonEveryBucket" >> beam.Filter(lambda kv: kv[1] == bands))
        if self._unique:
            candidates = members | "BestPairOfPassage" >> beam.Map(lambda kv: (kv[0], _pair_id_of(kv[1][0])))
        else:
            candidates = pairs | "PairsOfPassage" >> beam.Map(lambda p: (passage_key(p["passage"]), p["pair_id"]))

        def winners(kv):
            _, group = kv
            if list(group["won"]):
                yield from group["pair_ids"]

        return ({"pair_ids": candidates, "won": won}
                | "JoinWon" >> beam.CoGroupByKey()
                | "Winners" >> beam.FlatMap(winners))


class ApplyStages(beam.PTransform):
    """{"pairs", and per stage (reason, winner pair_ids), in order} -> {"pairs": kept, "outcomes"}.

    One join by pair_id (at most one pair and one mark per stage per key): a pair is kept when
    every stage marked it a winner, else dropped with the reason of the first stage that did not.
    """

    def __init__(self, reasons: List[str]):
        super().__init__()
        self._reasons = list(reasons)

    def expand(self, pcolls):
        reasons = self._reasons
        tagged = {"pair": pcolls["pairs"] | "KeyById" >> beam.Map(lambda p: (p["pair_id"], p))}
        for i, reason in enumerate(reasons):
            tagged[reason] = pcolls[reason] | f"Mark{i}" >> beam.Map(lambda pid: (pid, True))

        def verdict(kv):
            _, group = kv
            for pair in group["pair"]:
                lost = next((r for r in reasons if not list(group[r])), None)
                yield pair if lost is None else dropped(pair["source"], lost)

        return (tagged
                | "JoinMarks" >> beam.CoGroupByKey()
                | "Verdict" >> beam.FlatMap(verdict).with_outputs("outcomes", main="pairs"))


class Deduplicate(beam.PTransform):
    """Pairs -> {"pairs": kept, "outcomes"}: exact pair text, repeated passages, near duplicates."""

    def __init__(self, config: "CorpusSettings"):
        super().__init__()
        self._config = config

    def expand(self, pairs):
        stages = {schemas.reasons.DROP_DUPLICATE_PAIR_TEXT: pairs | "SamePairText" >> BestPerKey(_pair_text_key)}
        if self._config.dedup_passages:
            stages[schemas.reasons.DROP_REPEATED_PASSAGE] = pairs | "RepeatedPassage" >> BestPerKey(_passage_key)
        if self._config.near_dedup:
            stages[schemas.reasons.DROP_NEAR_DUPLICATE] = pairs | "NearDuplicates" >> NearDuplicateWinners(
                self._config.lsh(), passages_unique=self._config.dedup_passages)
        return dict(stages, pairs=pairs) | "Apply" >> ApplyStages(list(stages))


# ---- the pool ----

class BottomKCombineFn(beam.CombineFn):
    """The filter's passage pool as a combiner: each worker keeps at most `size` entries."""

    def __init__(self, size: int):
        self._size = size

    def create_accumulator(self):
        return pool.BottomKSample(self._size)

    def add_input(self, acc, entry):
        acc.offer(pool.PoolEntry(*entry))
        return acc

    def merge_accumulators(self, accumulators):
        accumulators = list(accumulators)
        merged = accumulators[0]
        for acc in accumulators[1:]:
            merged.merge(acc)
        return merged

    def extract_output(self, acc):
        return acc.entries()


class _WritePool(beam.DoFn):
    def __init__(self, directory: str):
        self._directory = directory

    def process(self, entries):
        rows = versions.write_table(versions.join(self._directory, pool.POOL_NAME), pool.Pool(tuple(entries)).to_table())
        yield {"path": pool.POOL_NAME, "rows": rows}


# ---- writing: one source per shard ----

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


class _WriteSourceShard(beam.DoFn):
    def __init__(self, directory: str):
        self._directory = directory

    def process(self, element, layout):
        index, rows = element
        source = next(s for s, (start, n) in layout.items() if start <= index < start + n)
        name = versions.shard_name("pairs", index, total_shards(layout))
        table = sorted_table(rows, PAIR_SCHEMA, PAIR_SORT)
        entry = {"path": name, "rows": versions.write_table(versions.join(self._directory, name), table)}
        if source:
            entry["source"] = source
        yield entry


class WriteSourceShards(beam.PTransform):
    """Pairs -> deterministic Parquet shards, each holding one source's pairs (sorted by pair_id)."""

    def __init__(self, directory: str, num_shards: int):
        super().__init__()
        self._directory, self._num_shards = directory, num_shards

    def expand(self, pairs):
        num_shards = self._num_shards
        layout = (pairs
                  | "Sources" >> beam.Map(lambda p: p["source"])
                  | "RowsPerSource" >> beam.combiners.Count.PerElement()
                  | "AsDict" >> beam.combiners.ToDict()
                  | "Layout" >> beam.Map(shard_layout, num_shards))

        def assign(pair, layout):
            start, n = layout[pair["source"]]
            return (start + shard_of(pair["pair_id"], n), pair)

        keyed = pairs | "AssignShard" >> beam.Map(assign, layout=beam.pvalue.AsSingleton(layout))
        empties = layout | "EveryShard" >> beam.FlatMap(lambda lay: [(i, None) for i in range(total_shards(lay))])
        return ((keyed, empties)
                | "Merge" >> beam.Flatten()
                | "GroupByShard" >> beam.GroupByKey()
                | "Write" >> beam.ParDo(_WriteSourceShard(self._directory), layout=beam.pvalue.AsSingleton(layout)))


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


def _count_stats(pair) -> List[Tuple[str, str, str]]:
    return corpus_stats.pair_stat_keys(pair["source"], pair["subsource"], pair["lang"], pair["query"], pair["passage"])


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
):
    """Add the whole job to `pipeline` (the version is claimed already); returns the manifest PCollection."""
    staging = claim.staging_dir
    read = (pipeline
            | "Units" >> beam.Create(units)
            | "SpreadUnits" >> beam.Reshuffle()
            | "Read" >> beam.ParDo(ReadPairShards(sum(unit[2] for unit in units))).with_outputs("read", main="pairs"))
    pairs, outcome_parts = read["pairs"], []
    if eval_folders:
        clean = pairs | "Decontaminate" >> beam.ParDo(Decontaminate(eval_folders, config.ngram_words)).with_outputs(
            "outcomes", main="pairs")
        pairs, outcome_parts = clean["pairs"], outcome_parts + [clean["outcomes"]]
    deduplicated = pairs | "Deduplicate" >> Deduplicate(config)
    pairs, outcome_parts = deduplicated["pairs"], outcome_parts + [deduplicated["outcomes"]]
    kept = pairs

    used = kept | "UsedOutcomes" >> beam.Map(lambda p: ((p["source"], schemas.reasons.USED), 1))
    outcomes = ((*outcome_parts, used)
                | "AllOutcomes" >> beam.Flatten()
                | "SumOutcomes" >> beam.CombinePerKey(sum)
                | "OutcomesAsDict" >> beam.combiners.ToDict())
    reads = (read["read"]
             | "SumRead" >> beam.CombinePerKey(sum)
             | "ReadAsDict" >> beam.combiners.ToDict())
    stat_counts = (kept
                   | "StatKeys" >> beam.FlatMap(_count_stats)
                   | "CountStats" >> beam.combiners.Count.PerElement()
                   | "StatsAsDict" >> beam.combiners.ToDict())
    pool_file = (kept
                 | "PoolEntries" >> beam.Map(lambda p: pool.pool_entry(p["passage"], p["passage_id"], p["source"]))
                 | "BottomK" >> beam.CombineGlobally(BottomKCombineFn(config.pool_size))
                 | "WritePool" >> beam.ParDo(_WritePool(staging)))
    shards = kept | "WriteShards" >> WriteSourceShards(staging, num_shards)

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
    eval_summary = check_eval_folders(eval_folders, config.ngram_words)
    claim = versions.claim_version(versions.version_path(own.output, DATASET, own.dataset_version), own.overwrite)
    build_corpus(pipeline, units=units, lineage=lineage, claim=claim, version=own.dataset_version, config=config,
                 eval_folders=eval_folders, eval_summary=eval_summary, num_shards=own.num_shards)
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
    main()
